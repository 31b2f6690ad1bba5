// The thumbnail worker against real Redis, s3rver and FFmpeg on loopback: one upload's trace
// reaches the worker's FFmpeg spans; a corrupt video fails after its retries with the FFmpeg
// error on ERROR spans and stays in `failed`; a hung FFmpeg is killed by the job timeout.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { subscribeRealtime, type RealtimeSubscription } from '../src/lib/realtime-bus.ts';
import { createThumbnailQueue, enqueueThumbnail, type ThumbnailQueue } from '../src/lib/queue.ts';
import { createRedis } from '../src/lib/redis.ts';
import { createS3Store, type S3Store } from '../src/lib/s3.ts';
import {
  FFMPEG_ATTR,
  JOB_THUMBNAIL,
  META,
  QUEUE_JOB_DURATION,
  QUEUE_JOB_WAIT,
  QUEUE_JOBS,
  QUEUE_THUMBNAIL,
  RT_THUMBNAIL_FAILED,
  RT_THUMBNAIL_READY,
  RT_UPLOAD_PROGRESS,
  queueJobSpanName,
  thumbnailKey,
  type RealtimeMessage,
  type ThumbnailJobData,
} from '../src/signals/index.ts';
import { registry } from '../src/telemetry/index.ts';
import { createThumbnailWorker, type ThumbnailWorker } from '../src/worker/thumbnail-worker.ts';
import { makeCorruptVideo, makeFifo, makeTestVideo, requireFfmpeg, type TestVideo } from './harness/ffmpeg.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';
import { tempDir, waitFor } from './harness/process.ts';
import { startRedis, type RedisHandle } from './harness/redis.ts';
import { startS3rver, type S3rverHandle } from './harness/s3rver.ts';

const OWNER = 'user-42';
const dir = tempDir('worker-thumbnail');
let redis: RedisHandle;
let s3rver: S3rverHandle;
let s3: S3Store;
let otel: TestTelemetry;
let producerRedis: Redis;
let producer: ThumbnailQueue;
let video: TestVideo;
let events: RealtimeMessage[] = [];
let subscription: RealtimeSubscription;
let busRedis: Redis;
const workers: ThumbnailWorker[] = [];

const spans = (): ReadableSpan[] => otel.spans();
const byName = (name: string, traceId?: string): ReadableSpan[] => spans().filter((s) => s.name === name && (!traceId || s.spanContext().traceId === traceId));

/** Stores a video the way the upload route does: object key, owner in metadata. */
async function storeVideo(id: string, file: string): Promise<ThumbnailJobData> {
  const body = readFileSync(file);
  const key = `videos/${id}.mp4`;
  await s3.putObject(key, body, { contentType: 'video/mp4', metadata: { [META.owner]: OWNER } });
  return { videoId: id, bucket: s3rver.bucket, key, size: body.length, contentType: 'video/mp4', otel: {} };
}

/** A stand-in for the upload request's SERVER span, enqueueing through the real producer. */
async function uploadRequest(data: ThumbnailJobData): Promise<{ traceId: string; requestSpanId: string }> {
  const tracer = trace.getTracer('test');
  return tracer.startActiveSpan('POST /api/upload/stream', { kind: SpanKind.SERVER }, async (span) => {
    await enqueueThumbnail(producer, data);
    span.end();
    return { traceId: span.spanContext().traceId, requestSpanId: span.spanContext().spanId };
  });
}

async function jobState(queue: Queue, id: string): Promise<string> {
  const job = await queue.getJob(id);
  return job ? await job.getState() : 'missing';
}

async function sample(name: string, labels: Record<string, string>): Promise<number> {
  const text = await registry.metrics();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Prints the span tree of one trace (used for docs/worker.md). */
function printTree(traceId: string): string {
  const list = spans().filter((s) => s.spanContext().traceId === traceId).sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
  const lines: string[] = [];
  const walk = (parentId: string | undefined, depth: number) => {
    for (const s of list.filter((x) => x.parentSpanContext?.spanId === parentId)) {
      lines.push(`${'  '.repeat(depth)}${s.name} [${SpanKind[s.kind]}] span=${s.spanContext().spanId} parent=${parentId ?? '-'}${s.status.code === SpanStatusCode.ERROR ? ' ERROR' : ''}`);
      walk(s.spanContext().spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return `trace ${traceId}\n${lines.join('\n')}`;
}

beforeAll(async () => {
  requireFfmpeg();
  [redis, s3rver] = await Promise.all([startRedis(), startS3rver()]);
  otel = await startTestTelemetry('video-worker');
  s3 = createS3Store({ endpoint: s3rver.endpoint, region: s3rver.region, bucket: s3rver.bucket, accessKeyId: s3rver.accessKeyId, secretAccessKey: s3rver.secretAccessKey });
  producerRedis = createRedis(redis.url);
  producer = createThumbnailQueue(producerRedis);
  busRedis = new Redis(redis.url);
  subscription = await subscribeRealtime(busRedis, (m) => events.push(m));
  video = makeTestVideo(dir.path, { seconds: 3, width: 320, height: 240 });
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close(500)));
  await subscription?.close();
  busRedis?.disconnect();
  await producer?.close();
  producerRedis?.disconnect();
  s3?.destroy();
  await otel?.shutdown();
  await Promise.all([redis?.stop(), s3rver?.stop()]);
  dir.cleanup();
});

beforeEach(() => {
  otel.reset();
  events = [];
});

describe('thumbnail worker', () => {
  it('joins the upload trace: queue.job thumbnail is a CONSUMER child of the enqueue, and its FFmpeg spans are its children', async () => {
    const w = createThumbnailWorker({ redisUrl: redis.url, s3, workDir: dir.path, downloadChunkBytes: 16 * 1024 });
    workers.push(w);
    const completedBefore = await sample(`${QUEUE_JOB_DURATION}_count`, { queue: QUEUE_THUMBNAIL, outcome: 'completed' });
    const waitsBefore = await sample(`${QUEUE_JOB_WAIT}_count`, { queue: QUEUE_THUMBNAIL });
    const data = await storeVideo('vid-ok', video.path);
    const { traceId, requestSpanId } = await uploadRequest(data);
    await waitFor(async () => (await jobState(w.queue, 'vid-ok')) === 'completed', 20_000, 'job vid-ok to complete');

    const job = await w.queue.getJob('vid-ok');
    expect(job?.returnvalue).toMatchObject({ thumbnailKey: thumbnailKey('vid-ok'), width: 320, height: 240, codec: 'h264' });
    const thumb = await s3.headObject(thumbnailKey('vid-ok'));
    expect(thumb.contentType).toBe('image/jpeg');
    expect(thumb.contentLength).toBeGreaterThan(1000);

    await waitFor(() => byName(queueJobSpanName(JOB_THUMBNAIL), traceId).length === 1, 5000, 'the job span');
    const enqueue = byName(`queue.enqueue ${QUEUE_THUMBNAIL}`, traceId)[0];
    const jobSpan = byName(queueJobSpanName(JOB_THUMBNAIL), traceId)[0];
    expect(enqueue?.parentSpanContext?.spanId).toBe(requestSpanId);
    expect(jobSpan?.kind).toBe(SpanKind.CONSUMER);
    expect(jobSpan?.parentSpanContext?.spanId).toBe(enqueue?.spanContext().spanId);
    expect(jobSpan?.attributes['messaging.system']).toBe('bullmq');
    expect(jobSpan?.attributes['messaging.destination.name']).toBe(QUEUE_THUMBNAIL);
    expect(jobSpan?.attributes['messaging.message.id']).toBe('vid-ok');
    const jobId = jobSpan?.spanContext().spanId;
    for (const name of ['ffmpeg.probe', 'ffmpeg.thumbnail', 'worker.download', 's3.head_object', 's3.put_object']) {
      const [s] = byName(name, traceId);
      expect(s, `${name} in the upload's trace`).toBeDefined();
      expect(s?.parentSpanContext?.spanId, `${name} is a child of the job span`).toBe(jobId);
    }
    // Ranged download: 16 KiB chunks, each an s3.get_object under worker.download.
    const download = byName('worker.download', traceId)[0];
    const gets = byName('s3.get_object', traceId);
    expect(gets.length).toBe(Math.ceil(data.size / (16 * 1024)));
    expect(gets.every((g) => g.parentSpanContext?.spanId === download?.spanContext().spanId)).toBe(true);
    expect(byName('ffmpeg.probe', traceId)[0]?.attributes[FFMPEG_ATTR.videoCodec]).toBe('h264');

    // The owner was told: processing, then thumbnail.ready with the probe's numbers.
    await waitFor(() => events.some((e) => e.event === RT_THUMBNAIL_READY), 5000, 'thumbnail.ready on the bus');
    expect(events.map((e) => e.event)).toEqual([RT_UPLOAD_PROGRESS, RT_THUMBNAIL_READY]);
    const ready = events[1] as RealtimeMessage<typeof RT_THUMBNAIL_READY>;
    expect(ready.ownerId).toBe(OWNER);
    expect(ready.payload).toMatchObject({ videoId: 'vid-ok', width: 320, height: 240 });
    expect(ready.payload.duration).toBeCloseTo(3, 0);
    expect(ready.payload.thumbnailUrl).toContain(thumbnailKey('vid-ok'));
    // The bus message carries the publisher's context (same trace) for the API's span link.
    expect(propagation.extract(context.active(), ready.otel) && trace.getSpanContext(propagation.extract(context.active(), ready.otel))?.traceId).toBe(traceId);

    expect(await sample(`${QUEUE_JOB_DURATION}_count`, { queue: QUEUE_THUMBNAIL, outcome: 'completed' })).toBe(completedBefore + 1);
    expect(await sample(QUEUE_JOBS, { queue: QUEUE_THUMBNAIL, state: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(await sample(`${QUEUE_JOB_WAIT}_count`, { queue: QUEUE_THUMBNAIL })).toBe(waitsBefore + 1);
    console.log(printTree(traceId));
    const text = await registry.metrics();
    console.log(text.split('\n').filter((l) => /^(queue_jobs\{|queue_job_duration_seconds_count|ffmpeg_duration_seconds_count)/.test(l)).join('\n'));
    await w.close(1000);
  });

  it('fails a corrupt video on every attempt with the FFmpeg error on ERROR spans, then keeps it in failed', async () => {
    const w = createThumbnailWorker({ redisUrl: redis.url, s3, workDir: dir.path });
    workers.push(w);
    const retryBefore = await sample(`${QUEUE_JOB_DURATION}_count`, { queue: QUEUE_THUMBNAIL, outcome: 'retry' });
    const failedBefore = await sample(`${QUEUE_JOB_DURATION}_count`, { queue: QUEUE_THUMBNAIL, outcome: 'failed' });
    const data = await storeVideo('vid-corrupt', makeCorruptVideo(dir.path));
    // Same producer path, but with a tiny backoff so three attempts take milliseconds.
    const otel: Record<string, string> = {};
    const traceId = await trace.getTracer('test').startActiveSpan('POST /api/upload/stream', async (span) => {
      propagation.inject(context.active(), otel);
      span.end();
      return span.spanContext().traceId;
    });
    await producer.add(JOB_THUMBNAIL, { ...data, otel }, { jobId: 'vid-corrupt', attempts: 3, backoff: { type: 'exponential', delay: 20 }, removeOnFail: 100 });
    await waitFor(async () => (await jobState(w.queue, 'vid-corrupt')) === 'failed', 20_000, 'job vid-corrupt to fail');

    const job = await w.queue.getJob('vid-corrupt');
    expect(job?.attemptsMade).toBe(3);
    expect(job?.failedReason).toMatch(/ffmpeg probe exited with \d+: .*Invalid data found when processing input/);
    const failed = await w.queue.getFailed();
    expect(failed.map((j) => j.id)).toContain('vid-corrupt');

    await waitFor(() => byName(queueJobSpanName(JOB_THUMBNAIL), traceId).length === 3, 5000, 'three job spans');
    const jobSpans = byName(queueJobSpanName(JOB_THUMBNAIL), traceId);
    expect(jobSpans.map((s) => s.attributes['messaging.bullmq.job.attempt']).sort()).toEqual([1, 2, 3]);
    for (const s of jobSpans) {
      expect(s.status.code).toBe(SpanStatusCode.ERROR);
      expect(s.status.message).toMatch(/Invalid data found/);
      expect(s.attributes['queue.job.final_failure']).toBe(s.attributes['messaging.bullmq.job.attempt'] === 3);
    }
    const probes = byName('ffmpeg.probe', traceId);
    expect(probes).toHaveLength(3);
    for (const p of probes) {
      expect(p.status.code).toBe(SpanStatusCode.ERROR);
      expect(p.attributes[FFMPEG_ATTR.exitCode]).not.toBe(0);
      expect(String(p.attributes[FFMPEG_ATTR.stderrTail])).toMatch(/Invalid data found when processing input/);
    }
    expect(byName('ffmpeg.thumbnail', traceId)).toHaveLength(0);
    expect(await sample(`${QUEUE_JOB_DURATION}_count`, { queue: QUEUE_THUMBNAIL, outcome: 'retry' })).toBe(retryBefore + 2);
    expect(await sample(`${QUEUE_JOB_DURATION}_count`, { queue: QUEUE_THUMBNAIL, outcome: 'failed' })).toBe(failedBefore + 1);
    expect(await sample(QUEUE_JOBS, { queue: QUEUE_THUMBNAIL, state: 'failed' })).toBeGreaterThanOrEqual(1);

    const failures = events.filter((e): e is RealtimeMessage<typeof RT_THUMBNAIL_FAILED> => e.event === RT_THUMBNAIL_FAILED);
    expect(failures.map((f) => [f.payload.attempt, f.payload.final])).toEqual([
      [1, false],
      [2, false],
      [3, true],
    ]);
    await w.close(1000);
  });

  it('kills a hung FFmpeg when the job timeout expires and fails the attempt with a timeout error', async () => {
    // A real ffprobe that blocks opening a FIFO nobody writes; the wrapper records its PID.
    const fifo = makeFifo(dir.path, 'never.fifo');
    const pidFile = join(dir.path, 'ffprobe.pid');
    const wrapper = join(dir.path, 'hung-ffprobe.sh');
    writeFileSync(wrapper, `#!/bin/sh\necho $$ > '${pidFile}'\nexec ffprobe -v error -i '${fifo}'\n`);
    chmodSync(wrapper, 0o755);
    const w = createThumbnailWorker({ redisUrl: redis.url, s3, workDir: dir.path, jobTimeoutMs: 1500, ffmpegKillGraceMs: 300, ffprobePath: wrapper });
    workers.push(w);
    const data = await storeVideo('vid-hung', video.path);
    const t0 = Date.now();
    await producer.add(JOB_THUMBNAIL, data, { jobId: 'vid-hung', attempts: 1, removeOnFail: 100 });
    await waitFor(async () => (await jobState(w.queue, 'vid-hung')) === 'failed', 15_000, 'job vid-hung to fail');
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(1500 + 300 + 5000);
    const job = await w.queue.getJob('vid-hung');
    expect(job?.failedReason).toMatch(/thumbnail job timed out after 1500 ms/);
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    expect(() => process.kill(pid, 0), 'the hung ffprobe process is gone').toThrow();
    await waitFor(() => byName('ffmpeg.probe').length === 1, 5000, 'the probe span');
    const probeSpan = byName('ffmpeg.probe')[0];
    expect(probeSpan?.status.code).toBe(SpanStatusCode.ERROR);
    expect(probeSpan?.attributes[FFMPEG_ATTR.signal]).toMatch(/SIGTERM|SIGKILL/);
    expect(byName(queueJobSpanName(JOB_THUMBNAIL))[0]?.status.message).toMatch(/timed out/);
    await w.close(1000);
  });
});
