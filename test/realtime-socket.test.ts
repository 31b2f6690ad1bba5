// Socket.io realtime on a real Fastify server, real Redis pub/sub, real s3rver, and the real
// thumbnail worker with FFmpeg: authentication, ownership checks on subscribe, and
// thumbnail.ready delivered to the owner with the right payload and a span link to the job's trace.
import { readFileSync } from 'node:fs';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { attachRealtime, type SubscribeAck } from '../src/api/realtime.ts';
import { signToken } from '../src/api/auth.ts';
import { createThumbnailQueue, enqueueThumbnail, type ThumbnailQueue } from '../src/lib/queue.ts';
import { publishRealtime } from '../src/lib/realtime-bus.ts';
import { createRedis } from '../src/lib/redis.ts';
import { createS3Store, type S3Store } from '../src/lib/s3.ts';
import {
  META,
  REALTIME_CHANNEL,
  REALTIME_PATH,
  RT_CONNECTED_CLIENTS,
  RT_CONNECTIONS,
  RT_MESSAGES,
  RT_THUMBNAIL_FAILED,
  RT_THUMBNAIL_READY,
  RT_SUBSCRIBE,
  SPAN_RT_CONNECTION,
  SPAN_RT_SUBSCRIBE,
  rtEmitSpanName,
  rtPublishSpanName,
  type ThumbnailFailedPayload,
  type ThumbnailReadyPayload,
} from '../src/signals/index.ts';
import { registry } from '../src/telemetry/index.ts';
import { createThumbnailWorker, type ThumbnailWorker } from '../src/worker/thumbnail-worker.ts';
import { makeCorruptVideo, makeTestVideo, requireFfmpeg } from './harness/ffmpeg.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';
import { tempDir, waitFor } from './harness/process.ts';
import { startRedis, type RedisHandle } from './harness/redis.ts';
import { startS3rver, type S3rverHandle } from './harness/s3rver.ts';

const SECRET = 'realtime-test-secret';
const dir = tempDir('realtime');
let redis: RedisHandle;
let s3rver: S3rverHandle;
let s3: S3Store;
let otel: TestTelemetry;
let app: FastifyInstance;
let url: string;
let apiRedis: Redis;
let producerRedis: Redis;
let producer: ThumbnailQueue;
let worker: ThumbnailWorker;
let videoPath: string;
const clients: ClientSocket[] = [];

function connect(token?: string): ClientSocket {
  const c = connectClient(url, { path: REALTIME_PATH, transports: ['websocket'], reconnection: false, ...(token ? { auth: { token } } : {}) });
  clients.push(c);
  return c;
}
const connected = (c: ClientSocket): Promise<void> =>
  new Promise((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('connect_error', (err) => reject(err));
  });
const rejected = (c: ClientSocket): Promise<Error> =>
  new Promise((resolve, reject) => {
    c.once('connect', () => reject(new Error('connected without valid credentials')));
    c.once('connect_error', (err) => resolve(err));
  });
const subscribe = (c: ClientSocket, videoId: unknown): Promise<SubscribeAck> => c.timeout(5000).emitWithAck(RT_SUBSCRIBE, { videoId });

async function storeVideo(id: string, owner: string, file = videoPath): Promise<{ key: string; size: number }> {
  const body = readFileSync(file);
  const key = `videos/${id}.mp4`;
  await s3.putObject(key, body, { contentType: 'video/mp4', metadata: { [META.owner]: owner, [META.videoId]: id } });
  return { key, size: body.length };
}

async function sample(name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await registry.metrics();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').at(-1)) : Number.NaN;
}

beforeAll(async () => {
  requireFfmpeg();
  [redis, s3rver] = await Promise.all([startRedis(), startS3rver()]);
  otel = await startTestTelemetry('video-api');
  s3 = createS3Store({ endpoint: s3rver.endpoint, region: s3rver.region, bucket: s3rver.bucket, accessKeyId: s3rver.accessKeyId, secretAccessKey: s3rver.secretAccessKey });
  apiRedis = new Redis(redis.url);
  app = Fastify();
  await attachRealtime(app, { redis: apiRedis, sessionSecret: SECRET, s3 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  producerRedis = createRedis(redis.url);
  producer = createThumbnailQueue(producerRedis);
  worker = createThumbnailWorker({ redisUrl: redis.url, s3, workDir: dir.path });
  videoPath = makeTestVideo(dir.path, { seconds: 2, width: 352, height: 288 }).path;
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await worker?.close(1000);
  await app?.close();
  await producer?.close();
  producerRedis?.disconnect();
  apiRedis?.disconnect();
  s3?.destroy();
  await otel?.shutdown();
  await Promise.all([redis?.stop(), s3rver?.stop()]);
  dir.cleanup();
});

beforeEach(() => otel.reset());

describe('realtime websocket', () => {
  it('rejects a socket without a session token, or with a forged one, and counts it as unauthorized', async () => {
    const before = await sample(RT_CONNECTIONS, { outcome: 'unauthorized' });
    expect((await rejected(connect())).message).toBe('unauthorized');
    expect((await rejected(connect(`${signToken('alice', 'not-the-secret')}`))).message).toBe('unauthorized');
    expect(await sample(RT_CONNECTIONS, { outcome: 'unauthorized' })).toBe(before + 2);
    const spans = otel.spansNamed(SPAN_RT_CONNECTION);
    expect(spans.map((s) => s.attributes['realtime.outcome'])).toEqual(['unauthorized', 'unauthorized']);
    expect(spans.every((s) => s.kind === SpanKind.SERVER)).toBe(true);
  });

  it('lets a user subscribe to their own video only: another user gets forbidden, an unknown id not_found', async () => {
    await storeVideo('alice-1', 'alice');
    const alice = connect(signToken('alice', SECRET));
    const bob = connect(signToken('bob', SECRET));
    await Promise.all([connected(alice), connected(bob)]);
    expect(await sample(RT_CONNECTED_CLIENTS)).toBeGreaterThanOrEqual(2);

    expect(await subscribe(alice, 'alice-1')).toEqual({ ok: true, videoId: 'alice-1' });
    expect(await subscribe(bob, 'alice-1')).toEqual({ ok: false, error: 'forbidden' });
    expect(await subscribe(alice, 'no-such-video')).toEqual({ ok: false, error: 'not_found' });
    expect(await subscribe(alice, '../../etc/passwd')).toEqual({ ok: false, error: 'bad_request' });
    const outcomes = otel.spansNamed(SPAN_RT_SUBSCRIBE).map((s) => s.attributes['realtime.outcome']);
    expect(outcomes).toEqual(['ok', 'forbidden', 'not_found', 'bad_request']);
    // Telemetry carries a hash of the user, never the id.
    expect(JSON.stringify(otel.spans().map((s) => s.attributes))).not.toContain('"alice"');
    alice.disconnect();
    bob.disconnect();
  });

  it('delivers thumbnail.ready from the worker to the owner with the probed payload, linked to the upload trace', async () => {
    const { key, size } = await storeVideo('carol-1', 'carol');
    const carol = connect(signToken('carol', SECRET));
    const dave = connect(signToken('dave', SECRET));
    await Promise.all([connected(carol), connected(dave)]);
    expect(await subscribe(carol, 'carol-1')).toEqual({ ok: true, videoId: 'carol-1' });
    const outBefore = await sample(RT_MESSAGES, { direction: 'out', event: RT_THUMBNAIL_READY });
    const daveGot: unknown[] = [];
    dave.onAny((event, payload) => daveGot.push([event, payload]));
    const ready = new Promise<ThumbnailReadyPayload>((resolve) => carol.once(RT_THUMBNAIL_READY, resolve));

    const traceId = await trace.getTracer('test').startActiveSpan('POST /api/upload/stream', { kind: SpanKind.SERVER }, async (span) => {
      await enqueueThumbnail(producer, { videoId: 'carol-1', bucket: s3rver.bucket, key, size, contentType: 'video/mp4' });
      span.end();
      return span.spanContext().traceId;
    });
    const payload = await ready;
    expect(Object.keys(payload).sort()).toEqual(['duration', 'height', 'thumbnailUrl', 'videoId', 'width']);
    expect(payload).toMatchObject({ videoId: 'carol-1', width: 352, height: 288 });
    expect(payload.duration).toBeCloseTo(2, 0);
    expect(payload.thumbnailUrl).toContain('thumbnails/carol-1.jpg');
    const thumb = await fetch(payload.thumbnailUrl);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');

    await waitFor(
      () => otel.spansNamed(rtEmitSpanName(RT_THUMBNAIL_READY)).length === 1 && otel.spansNamed(rtPublishSpanName(RT_THUMBNAIL_READY)).length === 1,
      5000,
      'the publish and emit spans',
    );
    const emit = otel.spansNamed(rtEmitSpanName(RT_THUMBNAIL_READY))[0]!;
    const publish = otel.spansNamed(rtPublishSpanName(RT_THUMBNAIL_READY))[0]!;
    expect(publish.spanContext().traceId).toBe(traceId);
    expect(emit.spanContext().traceId).not.toBe(traceId);
    expect(emit.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([[traceId, publish.spanContext().spanId]]);
    expect(emit.attributes['realtime.recipients']).toBe(1);
    expect(await sample(RT_MESSAGES, { direction: 'out', event: RT_THUMBNAIL_READY })).toBe(outBefore + 1);
    // Another user's socket received nothing.
    await new Promise((r) => setTimeout(r, 200));
    expect(daveGot).toEqual([]);
    carol.disconnect();
    dave.disconnect();
  });

  it('ignores malformed bus messages and events addressed to another owner', async () => {
    await storeVideo('frank-1', 'frank');
    const frank = connect(signToken('frank', SECRET));
    await connected(frank);
    expect(await subscribe(frank, 'frank-1')).toEqual({ ok: true, videoId: 'frank-1' });
    const got: unknown[] = [];
    frank.onAny((event, payload) => got.push([event, payload]));
    const ready = { videoId: 'frank-1', thumbnailUrl: 'http://x/t.jpg', duration: 1, width: 2, height: 3 };
    for (const raw of ['not json', '{}', JSON.stringify({ event: 'no.such.event', ownerId: 'frank', payload: { videoId: 'frank-1' } })]) await apiRedis.publish(REALTIME_CHANNEL, raw);
    await publishRealtime(apiRedis, RT_THUMBNAIL_READY, 'mallory', ready);
    await publishRealtime(apiRedis, RT_THUMBNAIL_READY, 'frank', ready);
    await waitFor(() => got.length > 0, 5000, 'the valid event');
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual([[RT_THUMBNAIL_READY, ready]]);
    frank.disconnect();
  });

  it('tells the owner thumbnail.failed with the FFmpeg error when the video is corrupt', async () => {
    const { key, size } = await storeVideo('erin-1', 'erin', makeCorruptVideo(dir.path));
    const erin = connect(signToken('erin', SECRET));
    await connected(erin);
    expect(await subscribe(erin, 'erin-1')).toEqual({ ok: true, videoId: 'erin-1' });
    const failed = new Promise<ThumbnailFailedPayload>((resolve) => erin.once(RT_THUMBNAIL_FAILED, resolve));
    const data = { videoId: 'erin-1', bucket: s3rver.bucket, key, size, contentType: 'video/mp4', otel: {} as Record<string, string> };
    propagation.inject(context.active(), data.otel);
    await producer.add('thumbnail', data, { jobId: 'erin-1', attempts: 1 });
    const payload = await failed;
    expect(payload).toMatchObject({ videoId: 'erin-1', attempt: 1, final: true });
    expect(payload.error).toMatch(/Invalid data found when processing input/);
    erin.disconnect();
  });
});
