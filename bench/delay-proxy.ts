// A TCP proxy that delays every chunk in both directions, in front of the S3 server, so S3
// latency in the benchmark is realistic (5-20 ms per direction, BENCH_S3_DELAY_MS) instead of
// loopback-fast. The delay is drawn once per connection; chunk order is kept.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface DelayProxy {
  port: number;
  endpoint: string;
  close: () => Promise<void>;
}

type Item = { at: number; kind: 'data'; chunk: Buffer } | { at: number; kind: 'end' | 'destroy' };

/**
 * Relays `from` to `to`, each chunk `delayMs` later, strictly in order: one FIFO and one timer per
 * direction (a timer per chunk can fire out of order when their delays round differently).
 */
function relay(from: Socket, to: Socket, delayMs: number): void {
  const queue: Item[] = [];
  let timer: NodeJS.Timeout | undefined;
  const pump = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && (queue[0] as Item).at <= now) {
      const item = queue.shift() as Item;
      if (to.destroyed) {
        queue.length = 0;
        return;
      }
      if (item.kind === 'data') to.write(item.chunk);
      else if (item.kind === 'end') to.end();
      else to.destroySoon();
    }
    if (queue.length > 0) timer = setTimeout(pump, Math.max(1, (queue[0] as Item).at - now));
  };
  const push = (item: Item) => {
    queue.push(item);
    if (!timer) timer = setTimeout(pump, Math.max(1, item.at - performance.now()));
  };
  from.on('data', (chunk: Buffer) => push({ at: performance.now() + delayMs, kind: 'data', chunk }));
  from.on('end', () => push({ at: performance.now() + delayMs, kind: 'end' }));
  // A reset or close on one side reaches the other after the data already in flight.
  from.on('error', () => undefined);
  from.on('close', () => push({ at: performance.now() + delayMs, kind: 'destroy' }));
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
