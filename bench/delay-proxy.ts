// A TCP proxy that delays every chunk in both directions, in front of the S3 server, so S3
// latency in the benchmark is realistic (5-20 ms per direction, BENCH_S3_DELAY_MS) instead of
// loopback-fast. The delay is drawn once per connection; chunk order is kept.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface DelayProxy {
  port: number;
  endpoint: string;
  close: () => Promise<void>;
}

function relay(from: Socket, to: Socket, delayMs: number): void {
  let last = 0;
  const at = () => {
    last = Math.max(Date.now() + delayMs, last);
    return last - Date.now();
  };
  from.on('data', (chunk: Buffer) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, at());
  });
  from.on('end', () => setTimeout(() => to.end(), at()));
  from.on('error', () => to.destroy());
  from.on('close', () => setTimeout(() => to.destroy(), at() + 1));
}

export async function startDelayProxy(target: { host: string; port: number }, delay: { min: number; max: number }): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    const d = delay.min + Math.random() * (delay.max - delay.min);
    relay(client, upstream, d);
    relay(upstream, client, d);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : 0;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
