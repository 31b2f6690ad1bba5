// The bench's positive control (bench/calibration-register.ts): its busy loop runs once per HTTP
// request of any server in the process, and the `calibration` variant preloads it into the
// SDK-disabled baseline. In its own file: importing the module subscribes this test process.
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { calibrationRuns, calibrationWork } from '../bench/calibration-register.ts';
import { ROOT, variantCommand } from '../bench/overhead.ts';

describe('bench calibration control', () => {
  it('runs its work once per HTTP request, before the handler', async () => {
    let seenAtHandler = -1;
    const server = createServer((_req, res) => {
      seenAtHandler = calibrationRuns();
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const before = calibrationRuns();
      for (let i = 0; i < 3; i++) expect(await (await fetch(url)).text()).toBe('ok');
      expect(calibrationRuns()).toBe(before + 3);
      expect(seenAtHandler).toBe(before + 3);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('does real work whose result changes from call to call', () => {
    const a = calibrationWork(100);
    const b = calibrationWork(100);
    expect(a).not.toBe(b);
    expect(Number.isInteger(a)).toBe(true);
  });

  it('is the SDK-disabled baseline with the control preloaded first', () => {
    const base = variantCommand('baseline');
    const cal = variantCommand('calibration');
    expect(cal.env).toEqual(base.env);
    expect(cal.env.OTEL_SDK_DISABLED).toBe('true');
    expect(cal.args).toEqual(['--import', join(ROOT, 'bench/calibration-register.ts'), ...base.args]);
  });
});
