// The chosen instrumentations really patch ESM imports when register.ts is preloaded: ioredis
// (only inside a trace: requireParentSpan) against a real Redis, and fetch (undici) with W3C
// propagation to a local server. Spans are read back from the real OTLP receiver.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, requireBinary, startProcess, tempDir, waitForPort, type Started } from './harness/process.ts';
import { startOtlpReceiver, type OtlpReceiver } from './harness/otlp-receiver.ts';

const root = resolve(import.meta.dirname, '..');
let receiver: OtlpReceiver;
let redis: Started;
let redisPort: number;
let dir: ReturnType<typeof tempDir>;
let http: Server;
let seenTraceparent: string | undefined;

beforeAll(async () => {
  const bin = requireBinary('redis-server', 'apt-get install -y redis-server');
  dir = tempDir('telemetry-redis');
  redisPort = await freePort();
  redis = startProcess(bin, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir.path]);
  await waitForPort(redisPort, 15_000, redis.proc);
  receiver = await startOtlpReceiver();
  http = createServer((req, res) => {
    seenTraceparent = req.headers.traceparent as string | undefined;
    res.end('ok');
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
});
afterAll(async () => {
  await redis?.stop();
  dir?.cleanup();
  await receiver?.stop();
  await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
});

describe('instrumentations under the ESM loader hook', () => {
  it('creates ioredis spans inside a trace only, and undici client spans that propagate traceparent', async () => {
    const httpPort = (http.address() as AddressInfo).port;
    const code = `
import Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { traceAsync } from './src/telemetry/index.ts';
const redis = new Redis(${redisPort}, '127.0.0.1', { lazyConnect: true });
await redis.connect();
await redis.set('outside', '1'); // no parent span: not traced (BullMQ polling stays quiet)
await traceAsync('job.thumbnail', async () => {
  await redis.set('inside', '2');
  await redis.get('inside');
  // A script call as BullMQ makes them: the span keeps the keys, not the values or the source.
  await redis.eval('return ARGV[1]', 1, 'bull:thumbnail:wait', 'job-data-marker');
  await redis.evalsha(createHash('sha1').update('return ARGV[1]').digest('hex'), 1, 'bull:thumbnail:wait', 'job-data-marker');
  await (await fetch('http://127.0.0.1:${httpPort}/crm')).text();
});
await redis.quit();
process.kill(process.pid, 'SIGTERM');
`;
    const child = startProcess(process.execPath, ['--import', resolve(root, 'src/telemetry/register.ts'), '--input-type=module', '--eval', code], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, OTEL_SERVICE_NAME: 'video-worker', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_LOGS_EXPORTER: 'none' },
    });
    const code_ = await new Promise<number | null>((r) => child.proc.once('exit', (c) => r(c)));
    expect(code_, child.output()).toBe(0);
    const job = receiver.spans.find((s) => s.name === 'job.thumbnail');
    expect(job?.resource['service.name']).toBe('video-worker');
    const redisSpans = receiver.spans.filter((s) => s.attributes['db.system.name'] === 'redis' || s.attributes['db.system'] === 'redis');
    expect(redisSpans.map((s) => s.name).sort(), JSON.stringify(receiver.spans.map((s) => s.name))).toEqual(['eval', 'evalsha', 'get', 'set']);
    for (const s of redisSpans) expect(s.parentSpanId).toBe(job!.spanId);
    const text = (name: string): unknown => redisSpans.find((s) => s.name === name)?.attributes['db.query.text'];
    expect(text('eval')).toBe('eval [script] 1 bull:thumbnail:wait [1 other arguments]');
    expect(text('evalsha')).toBe(`evalsha ${createHash('sha1').update('return ARGV[1]').digest('hex')} 1 bull:thumbnail:wait [1 other arguments]`);
    expect(text('set')).toBe('set inside [1 other arguments]');
    const fetchSpan = receiver.spans.find((s) => s.kind === 3 && s.attributes['http.request.method'] === 'GET' && s.traceId === job!.traceId); // SPAN_KIND_CLIENT
    expect(fetchSpan?.name).toBe('GET');
    expect(seenTraceparent).toBe(`00-${job!.traceId}-${fetchSpan!.spanId}-01`);
  });
});
