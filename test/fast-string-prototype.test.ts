// ioredis 6 (`class VerbatimString extends String`) leaves String.prototype in V8's dictionary
// mode, which keeps optimized code from inlining charCodeAt & co. in the whole process (the span
// encoder ran ~2x slower for it). The modules that import ioredis or bullmq restore it. Checked in
// child processes with V8's %HasFastProperties (--allow-natives-syntax), since the test process
// itself has loaded ioredis long before.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs `code` as an ES module in a fresh Node with natives syntax; returns its stdout lines. */
function probe(code: string): string[] {
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`probe failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim().split('\n');
}

const FAST = 'console.log(String(%HasFastProperties(String.prototype)))';

describe('String.prototype stays a fast-mode object', () => {
  it('a fresh process has it fast; ioredis alone leaves it in dictionary mode (the cause)', () => {
    expect(probe(`${FAST}; await import('ioredis'); ${FAST}`)).toEqual(['true', 'false']);
  });

  it('restoreFastStringPrototype makes it fast again after a String subclass', () => {
    const lines = probe(
      `class V extends String {}; ${FAST}; const { restoreFastStringPrototype } = await import('./src/lib/fast-string-prototype.ts'); restoreFastStringPrototype(); ${FAST}`,
    );
    expect(lines).toEqual(['false', 'true']);
  });

  it('is fast once the API app or the thumbnail worker module graph is loaded', () => {
    expect(probe(`await import('./src/api/app.ts'); ${FAST}`)).toEqual(['true']);
    expect(probe(`await import('./src/worker/thumbnail-worker.ts'); ${FAST}`)).toEqual(['true']);
  });
});
