// Shared harness for integration tests: free ports, temp dirs, starting a real binary on
// 127.0.0.1 and stopping it by PID. Each component's starter (s3rver.ts, redis.ts, ...) builds on this.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A free TCP port on 127.0.0.1, released just before use. It is drawn from below the kernel's
 * ephemeral range (net.ipv4.ip_local_port_range), so no outgoing connection of a parallel test can
 * take it between our check and the server's listen: a slow starter (e.g. video-api under
 * callgrind, seconds before it listens) once lost its port that way (EADDRINUSE). A port already
 * handed out in this process is not handed out again; across test workers the random draw keeps
 * collisions rare.
 */
export async function freePort(): Promise<number> {
  const top = Math.max(ephemeralLow() - 1, FIRST_PORT + 1000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = FIRST_PORT + Math.floor(Math.random() * (top - FIRST_PORT + 1));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port on 127.0.0.1 between ${FIRST_PORT} and ${top} after 200 tries`);
}

const FIRST_PORT = 20000;
const handedOut = new Set<number>();

/** The start of the kernel's ephemeral port range; the usual Linux default where /proc does not say. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low)) return low;
  } catch {
    // not Linux: fall through to the default
  }
  return 32768;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A fresh temp dir with `cleanup()`. */
export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Resolves a binary on PATH or in extra dirs; throws with install advice when missing. */
export function requireBinary(name: string, installHint: string, extraDirs: string[] = []): string {
  for (const dir of extraDirs) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const found = r.stdout.trim();
  if (r.status === 0 && found) return found;
  throw new Error(`${name} is not installed; install it with: ${installHint}`);
}

/** Waits until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 20_000, proc?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const gone = proc && exitStatus(proc);
    if (gone) throw new Error(`process exited (${gone}) before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Thrown by a waitFor check to stop waiting at once (the process it waits for has exited). */
export class GiveUpWaiting extends Error {}

/** How a child ended (`code 3`, `signal SIGKILL`), or undefined while it runs. */
export function exitStatus(proc: ChildProcess): string | undefined {
  if (proc.exitCode !== null) return `code ${proc.exitCode}`;
  if (proc.signalCode !== null) return `signal ${proc.signalCode}`;
  return undefined;
}

/** In a waitFor check: stop waiting once `proc` has exited. */
export function giveUpIfExited(proc: ChildProcess): void {
  const gone = exitStatus(proc);
  if (gone) throw new GiveUpWaiting(`exited (${gone})`);
}

/** Polls `check` every 100 ms until it returns true; its errors mean "not ready yet", except GiveUpWaiting. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if (err instanceof GiveUpWaiting) throw err;
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Started {
  proc: ChildProcess;
  /** Output so far (stdout + stderr), for failure messages. */
  output: () => string;
  stop: () => Promise<void>;
}

/** Spawns a process we own; `stop()` sends SIGTERM to its PID, then SIGKILL after 5 s. */
export function startProcess(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Started {
  const proc = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  return {
    proc,
    output: () => out,
    stop: () => stopProcess(proc),
  };
}

/** Stops a child we own: SIGTERM to its PID, SIGKILL after 5 s; resolves once it has exited. */
export function stopProcess(proc: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (exitStatus(proc) !== undefined) return resolve();
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/**
 * Waits until `GET url` answers 2xx from a process we started; on failure (timeout or the
 * process exiting) stops it, runs `cleanup` and throws with the process output.
 */
export async function waitForHttpReady(started: Started, url: string, what: string, cleanup: () => void, timeoutMs = 30_000): Promise<void> {
  try {
    await waitFor(
      async () => {
        giveUpIfExited(started.proc);
        return (await fetch(url)).ok;
      },
      timeoutMs,
      `${what} on ${url}`,
    );
  } catch (err) {
    await started.stop();
    cleanup();
    throw new Error(`${what} did not start: ${(err as Error).message}\n${started.output()}`, { cause: err });
  }
}
