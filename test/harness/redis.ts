// Starts a real redis-server on 127.0.0.1 on a free port, in its own temp dir, no persistence;
// stops it by PID.
import { freePort, requireBinary, startProcess, tempDir, waitForPort } from './process.ts';

export interface RedisHandle {
  url: string;
  port: number;
  output: () => string;
  stop: () => Promise<void>;
}

/** `port`: reuse a port (to bring a stopped Redis back where its clients reconnect). */
export async function startRedis(opts: { port?: number } = {}): Promise<RedisHandle> {
  const bin = requireBinary('redis-server', 'apt-get install -y redis-server');
  const port = opts.port ?? (await freePort());
  const dir = tempDir('redis');
  const started = startProcess(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
    { cwd: dir.path },
  );
  try {
    await waitForPort(port, 20_000, started.proc);
  } catch (err) {
    await started.stop();
    dir.cleanup();
    throw new Error(`redis-server did not start: ${(err as Error).message}\n${started.output()}`, { cause: err });
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    output: started.output,
    stop: async () => {
      await started.stop();
      dir.cleanup();
    },
  };
}
