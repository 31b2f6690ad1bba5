// A TCP proxy that delays every chunk in both directions, in front of the S3 server, so S3
// latency in the benchmark is realistic (5-20 ms per direction, BENCH_S3_DELAY_MS) instead of
// loopback-fast. The delay is drawn per message: a chunk that arrives when nothing is in flight in
// its direction starts a message (a request, a response) and draws a delay, the chunks that follow
// it while it is in flight share that delay, and chunk order is kept. A delay drawn once per
// connection would give each service process the mean of the few draws of its keep-alive
// connections to S3, a per-process latency offset that paired comparisons see as noise.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface DelayProxy {
  port: number;
  endpoint: string;
  close: () => Promise<void>;
}

type Item = { at: number; kind: 'data'; chunk: Buffer } | { at: number; kind: 'end' | 'destroy' };

/**
 * Relays `from` to `to`, each message `draw()` ms later, strictly in order: one FIFO and one timer
 * per direction (a timer per chunk can fire out of order when their delays round differently).
 */
function relay(from: Socket, to: Socket, draw: () => number): void {
  const queue: Item[] = [];
  let timer: NodeJS.Timeout | undefined;
  let delayMs = 0;
  /** When the item arriving now leaves: a new draw if it starts a message, never before the last one queued. */
  const due = () => {
    const now = performance.now();
    if (queue.length === 0) return now + (delayMs = draw());
    return Math.max(now + delayMs, (queue[queue.length - 1] as Item).at);
  };
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
  from.on('data', (chunk: Buffer) => push({ at: due(), kind: 'data', chunk }));
  from.on('end', () => push({ at: due(), kind: 'end' }));
  // A reset or close on one side reaches the other after the data already in flight.
  from.on('error', () => undefined);
  from.on('close', () => push({ at: due(), kind: 'destroy' }));
}

/**
 * Starts the proxy on 127.0.0.1 (a free port). Each message's delay is `min + random() * (max - min)`
 * ms; `random` (default `Math.random`) is a parameter so a test can pick the draws.
 */
export async function startDelayProxy(
  target: { host: string; port: number },
  delay: { min: number; max: number },
  random: () => number = Math.random,
): Promise<DelayProxy> {
  if (!(delay.min >= 0 && delay.max >= delay.min)) throw new Error(`delay proxy: need 0 <= min <= max ms, got ${delay.min}-${delay.max}`);
  const draw = () => delay.min + random() * (delay.max - delay.min);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    relay(client, upstream, draw);
    relay(upstream, client, draw);
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
