// The trace storage budget of docs/stack.md, from MEASURED span sizes: the real video-api and
// video-worker (child processes, SDK preloaded, real s3rver and Redis, FFmpeg) export their spans
// by OTLP/protobuf to local receivers; we count the bytes they send per kind of request and
// project them to a day at the stated request rate, production head-sampling ratio and mix.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createThumbnailQueue } from '../src/lib/queue.ts';
import { createRedis } from '../src/lib/redis.ts';
import {
  JOB_THUMBNAIL,
  SAMPLING_RATIO,
  SERVICE_WORKER,
  STORAGE_BUDGET_MIX,
  STORAGE_BUDGET_REQUESTS_PER_SECOND,
  STORAGE_BUDGET_UPLOAD_BYTES,
  TRACE_RETENTION_HOURS,
  TRACE_STORAGE_BUDGET_BYTES_PER_DAY,
  UPLOAD_PART_SIZE_BYTES,
  queueJobSpanName,
} from '../src/signals/index.ts';
import { fakeVideo, startApp, type StartedApp } from './harness/app.ts';
import { makeTestVideo } from './harness/ffmpeg.ts';
import { startOtlpReceiver, type OtlpReceiver } from './harness/otlp-receiver.ts';
import { freePort, startProcess, tempDir, waitFor, type Started } from './harness/process.ts';
import { ROOT, readText } from './compose-spec/stack.ts';

const MiB = 1024 * 1024;
const READS = 10;
const UPLOADS = 3;

let apiReceiver: OtlpReceiver;
/** The worker exports to its own receiver, so its bytes are told apart from the API's. */
let workerReceiver: OtlpReceiver;
let api: StartedApp;
let worker: Started | undefined;
const videos = tempDir('budget-videos');

beforeAll(async () => {
  apiReceiver = await startOtlpReceiver();
  workerReceiver = await startOtlpReceiver();
  api = await startApp({
    mode: 'process',
    env: {
      // Every trace exported (development ratio 1.0): we measure sizes, and apply the production
      // ratio in the arithmetic below.
      DEPLOYMENT_ENVIRONMENT: 'development',
      OTEL_EXPORTER_OTLP_ENDPOINT: apiReceiver.endpoint,
      OTEL_METRICS_EXPORTER: 'none',
      // settle() waits for 1.5 s without an export: batches must go out sooner than that.
      OTEL_BSP_SCHEDULE_DELAY: '500',
      UPLOAD_MAX_BYTES: String(64 * MiB),
      LOG_LEVEL: 'info',
    },
  });
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await apiReceiver?.stop();
  await workerReceiver?.stop();
  videos.cleanup();
});

const auth = (): Record<string, string> => ({ authorization: `Bearer ${api.token('budget')}` });
const traceBytes = (r: OtlpReceiver): number => r.requests.filter((q) => q.path === '/v1/traces').reduce((n, q) => n + q.bytes, 0);
const logBytes = (r: OtlpReceiver): number => r.requests.filter((q) => q.path === '/v1/logs').reduce((n, q) => n + q.bytes, 0);

/** Waits until the receivers got nothing new for 1.5 s (the batch processor exports every 1 s). */
async function settle(): Promise<void> {
  let last = -1;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const now = traceBytes(apiReceiver) + traceBytes(workerReceiver) + logBytes(apiReceiver) + logBytes(workerReceiver);
    if (now === last) return;
    last = now;
    await new Promise((r) => setTimeout(r, 1500));
  }
  throw new Error('OTLP exports did not settle within 20 s');
}

interface Measured {
  n: number;
  traceBytes: number;
  spans: number;
  logBytes: number;
}
/** Runs `fn` `n` times, waits for the exports, and returns what both services exported for it. */
async function measure(n: number, fn: (i: number) => Promise<void>, until?: () => Promise<void>): Promise<Measured> {
  const before = { t: traceBytes(apiReceiver) + traceBytes(workerReceiver), s: apiReceiver.spans.length + workerReceiver.spans.length, l: logBytes(apiReceiver) + logBytes(workerReceiver) };
  for (let i = 0; i < n; i++) await fn(i);
  await until?.();
  await settle();
  return {
    n,
    traceBytes: traceBytes(apiReceiver) + traceBytes(workerReceiver) - before.t,
    spans: apiReceiver.spans.length + workerReceiver.spans.length - before.s,
    logBytes: logBytes(apiReceiver) + logBytes(workerReceiver) - before.l,
  };
}

async function upload(body: Buffer, name: string): Promise<string> {
  const res = await fetch(`${api.url}/api/upload/stream?filename=${name}`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/octet-stream' },
    body,
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { url: string }).url;
}

async function startWorker(): Promise<void> {
  const metricsPort = await freePort();
  worker = startProcess(process.execPath, ['--import', './src/telemetry/register.ts', './src/worker/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      OTEL_SERVICE_NAME: SERVICE_WORKER,
      DEPLOYMENT_ENVIRONMENT: 'development',
      OTEL_EXPORTER_OTLP_ENDPOINT: workerReceiver.endpoint,
      OTEL_METRICS_EXPORTER: 'none',
      // settle() waits for 1.5 s without an export: batches must go out sooner than that.
      OTEL_BSP_SCHEDULE_DELAY: '500',
      REDIS_URL: api.redis.url,
      S3_ENDPOINT: api.s3.endpoint,
      S3_BUCKET: api.s3.bucket,
      S3_REGION: api.s3.region,
      AWS_ACCESS_KEY_ID: api.s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: api.s3.secretAccessKey,
      HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'info',
    },
  });
  const w = worker;
  await waitFor(async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).ok, 30_000, `video-worker metrics\n${w.output()}`);
}

describe('trace storage budget (docs/stack.md)', () => {
  it('keeps traces under TRACE_STORAGE_BUDGET_BYTES_PER_DAY at the stated rate, measured from the real service', async () => {
    const realVideo = readFileSync(makeTestVideo(videos.path, { seconds: 2 }).path);
    const videoUrl = await upload(realVideo, 'budget.mp4');
    await settle();

    // 1. Reads, API only (no worker running yet, so no job or realtime traffic mixes in).
    const stream = await measure(READS, async (i) => {
      const res = await fetch(`${api.url}${videoUrl}?delivery=stream`, { headers: { ...auth(), range: `bytes=${i * 1024}-${i * 1024 + 65_535}` } });
      expect(res.status).toBe(206);
      await res.arrayBuffer();
    });
    const redirect = await measure(READS, async () => {
      const res = await fetch(`${api.url}${videoUrl}?delivery=redirect`, { headers: auth(), redirect: 'manual' });
      expect(res.status).toBe(302);
      await res.arrayBuffer();
    });

    // 2. The cost of a multipart part: uploads of one part and of three parts (API side).
    const upload1 = await measure(UPLOADS, async (i) => void (await upload(fakeVideo(1 * MiB), `one-${i}.mp4`)));
    const upload3 = await measure(UPLOADS, async (i) => void (await upload(fakeVideo(2 * UPLOAD_PART_SIZE_BYTES + MiB), `three-${i}.mp4`)));
    // Their queued jobs hold undecodable bytes: drop them before the worker starts.
    const redis = createRedis(api.redis.url);
    const queue = createThumbnailQueue(redis);
    await queue.drain(true);
    await queue.close();
    redis.disconnect();

    // 3. A whole upload of a real video: the API request, the thumbnail job in the real worker
    //    (the job carries the upload's trace context, so it is kept with it) and what follows.
    await startWorker();
    await settle();
    const jobs = (): number => workerReceiver.spans.filter((s) => s.name === queueJobSpanName(JOB_THUMBNAIL)).length;
    const jobsBefore = jobs();
    const uploadWithJob = await measure(
      UPLOADS,
      async (i) => void (await upload(realVideo, `real-${i}.mp4`)),
      () => workerReceiver.waitFor(() => jobs() >= jobsBefore + UPLOADS, 60_000, `${UPLOADS} thumbnail jobs\n${worker?.output() ?? ''}`),
    );

    const all = { stream, redirect, upload1, upload3, uploadWithJob };
    for (const [name, m] of Object.entries(all)) {
      expect(m.spans, `${name}: spans exported`).toBeGreaterThan(0);
      expect(m.traceBytes, `${name}: bytes exported`).toBeGreaterThan(0);
    }

    const perRequest = (m: Measured): number => m.traceBytes / m.n;
    const perPart = Math.max((perRequest(upload3) - perRequest(upload1)) / 2, 0);
    const parts = Math.ceil(STORAGE_BUDGET_UPLOAD_BYTES / UPLOAD_PART_SIZE_BYTES);
    const typicalUpload = perRequest(uploadWithJob) + (parts - 1) * perPart;

    const ratio = SAMPLING_RATIO.production;
    const perDay = STORAGE_BUDGET_REQUESTS_PER_SECOND * 86_400;
    // Reads are head-sampled at the production ratio; uploads are critical routes, always kept.
    const dailyBytes =
      perDay * (STORAGE_BUDGET_MIX.stream * ratio * perRequest(stream) + STORAGE_BUDGET_MIX.redirect * ratio * perRequest(redirect) + STORAGE_BUDGET_MIX.upload * typicalUpload);
    const maxRate = (STORAGE_BUDGET_REQUESTS_PER_SECOND * TRACE_STORAGE_BUDGET_BYTES_PER_DAY) / dailyBytes;

    const row = (name: string, m: Measured): string =>
      `| ${name} | ${m.n} | ${(m.spans / m.n).toFixed(1)} | ${(m.traceBytes / m.spans).toFixed(0)} | ${perRequest(m).toFixed(0)} | ${(m.logBytes / m.n).toFixed(0)} |`;
    console.log(
      [
        '| request | n | spans/request | bytes/span | trace bytes/request | log bytes/request |',
        '| --- | --- | --- | --- | --- | --- |',
        row('stream (64 KiB range)', stream),
        row('redirect', redirect),
        row('upload 1 MiB, 1 part (API only)', upload1),
        row(`upload ${(2 * UPLOAD_PART_SIZE_BYTES + MiB) / MiB} MiB, 3 parts (API only)`, upload3),
        row(`upload ${(realVideo.length / 1024).toFixed(0)} KiB + thumbnail job (API + worker)`, uploadWithJob),
        `bytes per extra 5 MiB part: ${perPart.toFixed(0)}; typical ${STORAGE_BUDGET_UPLOAD_BYTES / MiB} MiB upload (${parts} parts) with its job: ${typicalUpload.toFixed(0)} bytes`,
        `at ${STORAGE_BUDGET_REQUESTS_PER_SECOND} req/s, ratio ${ratio}, mix ${JSON.stringify(STORAGE_BUDGET_MIX)}: ${(dailyBytes / 1e6).toFixed(0)} MB/day of OTLP span bytes; ` +
          `retention ${TRACE_RETENTION_HOURS} h -> ${((dailyBytes * TRACE_RETENTION_HOURS) / 24 / 1e9).toFixed(2)} GB kept; budget reached at ${maxRate.toFixed(0)} req/s`,
      ].join('\n'),
    );

    expect(dailyBytes).toBeLessThan(TRACE_STORAGE_BUDGET_BYTES_PER_DAY);
  }, 180_000);

  it('docs/stack.md states the budget with the same rate, ratio, mix and retention the arithmetic uses', () => {
    const doc = readText('docs/stack.md');
    expect(doc).toContain(`${STORAGE_BUDGET_REQUESTS_PER_SECOND} req/s`);
    expect(doc).toContain(`${SAMPLING_RATIO.production}`);
    expect(doc).toContain(`${TRACE_RETENTION_HOURS} h`);
    for (const share of Object.values(STORAGE_BUDGET_MIX)) expect(doc).toContain(`${Math.round(share * 100)} %`);
    expect(doc).toContain('npx vitest run test/compose-storage-budget.test.ts');
  });
});
