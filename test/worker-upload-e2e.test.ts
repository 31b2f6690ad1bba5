// End to end, all real on loopback: an HTTP upload to video-api (buildApp, s3rver, Redis) produces
// ONE trace from the request's SERVER span through the queue to the worker's FFmpeg spans, and
// the uploader's websocket receives thumbnail.ready. Prints the trace for docs/worker.md.
import { readFileSync } from 'node:fs';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubscribeAck } from '../src/api/realtime.ts';
import { createS3Store, type S3Store } from '../src/lib/s3.ts';
import { JOB_THUMBNAIL, REALTIME_PATH, RT_SUBSCRIBE, RT_THUMBNAIL_READY, queueJobSpanName, rtEmitSpanName, type ThumbnailReadyPayload } from '../src/signals/index.ts';
import { createThumbnailWorker, type ThumbnailWorker } from '../src/worker/thumbnail-worker.ts';
import { startApp, type StartedApp } from './harness/app.ts';
import { makeTestVideo, requireFfmpeg } from './harness/ffmpeg.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';
import { tempDir, waitFor } from './harness/process.ts';

const dir = tempDir('worker-e2e');
let tel: TestTelemetry;
let api: StartedApp;
let s3: S3Store;
let worker: ThumbnailWorker;
let client: ClientSocket | undefined;

/** One line per span, indented under its parent, with kind, ids and status. */
function tree(spans: ReadableSpan[], traceId: string): string {
  const mine = spans.filter((s) => s.spanContext().traceId === traceId).sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
  const ids = new Set(mine.map((s) => s.spanContext().spanId));
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number): void => {
    for (const s of mine.filter((x) => (parent === undefined ? !x.parentSpanContext || !ids.has(x.parentSpanContext.spanId) : x.parentSpanContext?.spanId === parent))) {
      const ms = (s.duration[0] * 1e3 + s.duration[1] / 1e6).toFixed(1);
      lines.push(`${'  '.repeat(depth)}${s.name}  [${SpanKind[s.kind]}] span=${s.spanContext().spanId} parent=${s.parentSpanContext?.spanId ?? '-'} ${ms} ms${s.status.code === SpanStatusCode.ERROR ? ' ERROR' : ''}`);
      walk(s.spanContext().spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return `trace_id=${traceId}\n${lines.join('\n')}`;
}

beforeAll(async () => {
  requireFfmpeg();
  tel = await startTestTelemetry('video-api');
  api = await startApp();
  s3 = createS3Store({ endpoint: api.s3.endpoint, region: api.s3.region, bucket: api.s3.bucket, accessKeyId: api.s3.accessKeyId, secretAccessKey: api.s3.secretAccessKey });
  // Not consuming yet: the test subscribes its socket first, then starts the worker.
  worker = createThumbnailWorker({ redisUrl: api.redis.url, s3, workDir: dir.path, autorun: false });
});

afterAll(async () => {
  client?.disconnect();
  await worker?.close(1000);
  s3?.destroy();
  await api?.stop();
  await tel?.shutdown();
  dir.cleanup();
});

describe('upload to thumbnail, end to end', () => {
  it('one upload produces one trace from POST /api/upload/stream through the queue to ffmpeg.thumbnail, and the owner gets thumbnail.ready', async () => {
    const video = makeTestVideo(dir.path, { seconds: 4, width: 640, height: 360 });
    const res = await fetch(`${api.url}/api/upload/stream?filename=clip.mp4`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.token('alice')}`, 'content-type': 'video/mp4' },
      body: readFileSync(video.path),
    });
    expect(res.status).toBe(201);
    const uploaded = (await res.json()) as { id: string };
    // The response hands the trace to the client (docs/frontend-correlation.md).
    const traceresponse = res.headers.get('traceresponse') ?? '';
    expect(traceresponse).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const traceId = traceresponse.split('-')[1]!;

    client = connectClient(api.url, { path: REALTIME_PATH, transports: ['websocket'], reconnection: false, auth: { token: api.token('alice') } });
    const ack: SubscribeAck = await client.timeout(5000).emitWithAck(RT_SUBSCRIBE, { videoId: uploaded.id });
    expect(ack).toEqual({ ok: true, videoId: uploaded.id });
    const ready = new Promise<ThumbnailReadyPayload>((resolve) => client!.once(RT_THUMBNAIL_READY, resolve));
    void worker.worker.run();

    const payload = await ready;
    expect(payload).toMatchObject({ videoId: uploaded.id, width: 640, height: 360 });
    expect(payload.duration).toBeCloseTo(4, 0);
    // The job span ends just after it publishes thumbnail.ready.
    await waitFor(
      () => tel.spansNamed(rtEmitSpanName(RT_THUMBNAIL_READY)).length === 1 && tel.spansNamed(queueJobSpanName(JOB_THUMBNAIL)).length === 1,
      5000,
      `the emit and job spans (have ${tel.spans().map((s) => s.name).join(', ')})`,
    );

    const spans = tel.spans();
    const inTrace = (name: string) => spans.filter((s) => s.name === name && s.spanContext().traceId === traceId);
    const request = inTrace('POST /api/upload/stream')[0];
    const jobSpan = inTrace(queueJobSpanName(JOB_THUMBNAIL))[0];
    expect(request?.kind).toBe(SpanKind.SERVER);
    expect(jobSpan?.kind).toBe(SpanKind.CONSUMER);
    // Walk up from ffmpeg.thumbnail: job span, enqueue span, ..., the HTTP request span.
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const ancestors = (s: ReadableSpan | undefined): string[] => {
      const out: string[] = [];
      for (let p = s?.parentSpanContext?.spanId; p && byId.has(p); p = byId.get(p)!.parentSpanContext?.spanId) out.push(byId.get(p)!.name);
      return out;
    };
    expect(ancestors(inTrace('ffmpeg.thumbnail')[0])).toEqual([queueJobSpanName(JOB_THUMBNAIL), ...ancestors(jobSpan)]);
    expect(ancestors(jobSpan)[0]).toBe('queue.enqueue thumbnail');
    expect(ancestors(jobSpan).at(-1)).toBe('POST /api/upload/stream');
    expect(inTrace('ffmpeg.probe')).toHaveLength(1);
    // The websocket emit is a new trace, linked to the worker's publish span in the upload trace.
    const emit = tel.spansNamed(rtEmitSpanName(RT_THUMBNAIL_READY))[0]!;
    expect(emit.links[0]?.context.traceId).toBe(traceId);
    console.log(tree(spans, traceId));
  });
});
