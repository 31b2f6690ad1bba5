// The shared process harness (test/harness/process.ts): a wait gives up at once when the process
// it waits for has exited, instead of polling until its timeout and reporting a timeout; and a free
// port that no outgoing connection can take before the server listens.
import { readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { exitStatus, freePort, GiveUpWaiting, startProcess, waitFor, waitForHttpReady, waitForPort } from './harness/process.ts';

describe('test harness: waiting for a process', () => {
  it('retries a check that throws, and stops at once on GiveUpWaiting', async () => {
    let calls = 0;
    await waitFor(
      () => {
        calls++;
        if (calls < 3) throw new Error('not yet');
        return true;
      },
      5_000,
      'the third call',
    );
    expect(calls).toBe(3);

    const t0 = Date.now();
    await expect(
      waitFor(
        () => {
          throw new GiveUpWaiting('exited (code 3)');
        },
        10_000,
        'something that will not come',
      ),
    ).rejects.toThrow('exited (code 3)');
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('reports a process that exits before it is ready by its exit code, not by a timeout', async () => {
    const started = startProcess(process.execPath, ['-e', 'console.error("bad config"); process.exit(3)']);
    const t0 = Date.now();
    let cleaned = false;
    await expect(waitForHttpReady(started, 'http://127.0.0.1:9/healthz', 'a doomed server', () => (cleaned = true), 20_000)).rejects.toThrow(
      /a doomed server did not start: exited \(code 3\)\nbad config/,
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(cleaned).toBe(true);
    expect(exitStatus(started.proc)).toBe('code 3');
  });

  it('names the signal of a process killed before it listened', async () => {
    const started = startProcess(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    const waiting = waitForPort(9, 20_000, started.proc);
    started.proc.kill('SIGKILL');
    await expect(waiting).rejects.toThrow('process exited (signal SIGKILL) before listening on 9');
    expect(exitStatus(started.proc)).toBe('signal SIGKILL');
  });
});

describe('test harness: free ports', () => {
  it('hands out distinct ports below the ephemeral range, each one listenable', async () => {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    const ports: number[] = [];
    for (let i = 0; i < 50; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(50);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(1024);
      expect(port).toBeLessThan(low!);
    }
    // Outgoing connections take their local port from the ephemeral range, never one of ours.
    const server = createServer((s) => s.resume());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port: serverPort } = server.address() as { port: number };
    const clients: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const c = connect(serverPort, '127.0.0.1');
      await new Promise<void>((r) => c.once('connect', () => r()));
      clients.push(c);
    }
    for (const c of clients) {
      expect(c.localPort).toBeGreaterThanOrEqual(low!);
      expect(ports).not.toContain(c.localPort);
      c.destroy();
    }
    await new Promise<void>((r) => server.close(() => r()));
    const listener = createServer();
    await new Promise<void>((r, j) => {
      listener.once('error', j);
      listener.listen(ports[0], '127.0.0.1', r);
    });
    await new Promise<void>((r) => listener.close(() => r()));
  });
});
