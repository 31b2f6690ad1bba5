// SIGTERM on a real worker process (`node src/worker/main.ts`) in the middle of a job: the job
// either finishes (within the grace period) or goes back to `waiting` and is then completed by
// another worker — never lost. Also checks the worker's own /metrics endpoint.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Store, type S3Store } from '../src/lib/s3.ts';
import { JOB_THUMBNAIL, META, QUEUE_JOBS, QUEUE_THUMBNAIL, SERVICE_WORKER, type ThumbnailJobData } from '../src/signals/index.ts';
import { createThumbnailWorker } from '../src/worker/thumbnail-worker.ts';
import { makeFifo, makeTestVideo, requireFfmpeg } from './harness/ffmpeg.ts';
import { freePort, startProcess, tempDir, waitFor, type Started } from './harness/process.ts';
import { startOtlpReceiver, type OtlpReceiver } from './harness/otlp-receiver.ts';
import { startRedis, type RedisHandle } from './harness/redis.ts';
import { startS3rver, type S3rverHandle } from './harness/s3rver.ts';

const dir = tempDir('worker-shutdown');
let redis: RedisHandle;
let s3rver: S3rverHandle;
let s3: S3Store;
let connection: Redis;
let queue: Queue<ThumbnailJobData>;
let videoPath: string;
let otlp: OtlpReceiver;
const procs: Started[] = [];

async function storeVideo(id: string): Promise<ThumbnailJobData> {
  const body = readFileSync(videoPath);
  const key = `videos/${id}.mp4`;
  await s3.putObject(key, body, { contentType: 'video/mp4', metadata: { [META.owner]: 'user-1' } });
  return { videoId: id, bucket: s3rver.bucket, key, size: body.length, contentType: 'video/mp4', otel: {} };
}

/** A wrapper standing in for ffprobe: records its PID, then runs `body` (which ends by exec-ing the real ffprobe). */
function ffprobeWrapper(name: string, body: string): { path: string; pidFile: string } {
  const path = join(dir.path, `${name}.sh`);
  const pidFile = join(dir.path, `${name}.pid`);
  writeFileSync(path, `#!/bin/sh\necho $$ > '${pidFile}'\n${body}\n`);
  chmodSync(path, 0o755);
  return { path, pidFile };
}

/**
 * `node --import src/telemetry/register.ts src/worker/main.ts`: the production start (from source).
 * With OTEL_SDK_DISABLED=true the bootstrap installs no signal handler and the worker's own runs.
 */
async function startWorkerProcess(env: Record<string, string>): Promise<{ proc: Started; metricsPort: number }> {
  const metricsPort = await freePort();
  const proc = startProcess(process.execPath, ['--import', './src/telemetry/register.ts', 'src/worker/main.ts'], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      OTEL_SERVICE_NAME: SERVICE_WORKER,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      REDIS_URL: redis.url,
      S3_ENDPOINT: s3rver.endpoint,
      S3_BUCKET: s3rver.bucket,
      S3_REGION: s3rver.region,
      AWS_ACCESS_KEY_ID: s3rver.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3rver.secretAccessKey,
      METRICS_PORT: String(metricsPort),
      WORKER_TMP_DIR: dir.path,
      ...env,
    },
  });
  procs.push(proc);
  await waitFor(() => proc.output().includes('worker ready'), 20_000, `worker ready (output: ${proc.output().slice(-500)})`).catch((err: Error) => {
    throw new Error(`${err.message}\n${proc.output()}`);
  });
  return { proc, metricsPort };
}

function exited(proc: Started): Promise<{ code: number | null; signal: string | null }> {
  if (proc.proc.exitCode !== null || proc.proc.signalCode !== null) return Promise.resolve({ code: proc.proc.exitCode, signal: proc.proc.signalCode });
  return new Promise((resolve) => proc.proc.once('exit', (code, signal) => resolve({ code, signal })));
}

async function state(id: string): Promise<string> {
  const job = await queue.getJob(id);
  return job ? job.getState() : 'missing';
}

beforeAll(async () => {
  requireFfmpeg();
  [redis, s3rver, otlp] = await Promise.all([startRedis(), startS3rver(), startOtlpReceiver()]);
  s3 = createS3Store({ endpoint: s3rver.endpoint, region: s3rver.region, bucket: s3rver.bucket, accessKeyId: s3rver.accessKeyId, secretAccessKey: s3rver.secretAccessKey });
  connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  queue = new Queue<ThumbnailJobData>(QUEUE_THUMBNAIL, { connection });
  videoPath = makeTestVideo(dir.path, { seconds: 2 }).path;
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await queue?.close();
  connection?.disconnect();
  s3?.destroy();
  await Promise.all([redis?.stop(), s3rver?.stop(), otlp?.stop()]);
  dir.cleanup();
});

describe('worker shutdown on SIGTERM', () => {
  it('lets the active job finish within the grace period, exports its spans as video-worker, exits 0, and serves queue depth on /metrics meanwhile', async () => {
    const slow = ffprobeWrapper('slow-ffprobe', 'sleep 2.5\nexec ffprobe "$@"');
    // Telemetry on, exporting OTLP to a local receiver: SIGTERM goes through the bootstrap's
    // handler, which runs the worker's onShutdown hook and then flushes the job's spans.
    const { proc, metricsPort } = await startWorkerProcess({ FFPROBE_PATH: slow.path, WORKER_SHUTDOWN_GRACE_MS: '8000' });
    const upstream = { traceId: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', spanId: '0102030405060708' };
    const data = { ...(await storeVideo('finish-me')), otel: { traceparent: `00-${upstream.traceId}-${upstream.spanId}-01` } };
    await queue.add(JOB_THUMBNAIL, data, { jobId: 'finish-me', attempts: 3 });
    await waitFor(() => existsSync(slow.pidFile), 15_000, 'the worker to start ffprobe');
    expect(await state('finish-me')).toBe('active');

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const active = metrics.split('\n').find((l) => l.startsWith(`${QUEUE_JOBS}{`) && l.includes(`queue="${QUEUE_THUMBNAIL}"`) && l.includes('state="active"'));
    expect(active, metrics).toBeDefined();
    expect(active).toContain(`service_name="${SERVICE_WORKER}"`);
    expect(Number(active?.split(' ').at(-1))).toBe(1);

    const t0 = Date.now();
    proc.proc.kill('SIGTERM');
    const exit = await exited(proc);
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000 + 3000);
    expect(await state('finish-me')).toBe('completed');
    expect((await queue.getJob('finish-me'))?.returnvalue).toMatchObject({ width: 320, height: 240 });
    // The job's spans were exported before exit, as video-worker, in the upload's trace.
    const exported = otlp.spans.filter((sp) => sp.traceId === upstream.traceId);
    const jobSpan = exported.find((sp) => sp.name === 'queue.job thumbnail');
    expect(jobSpan?.parentSpanId).toBe(upstream.spanId);
    expect(jobSpan?.resource['service.name']).toBe(SERVICE_WORKER);
    for (const name of ['ffmpeg.probe', 'ffmpeg.thumbnail']) expect(exported.find((sp) => sp.name === name)?.parentSpanId, name).toBe(jobSpan?.spanId);
  });

  it('puts a job that outlives the grace period back in waiting (no attempt spent), also with telemetry disabled, and another worker completes it', async () => {
    const fifo = makeFifo(dir.path, 'stuck.fifo');
    const hung = ffprobeWrapper('hung-ffprobe', `exec ffprobe -v error -i '${fifo}'`);
    // Telemetry off (the overhead baseline): the worker's own SIGTERM handler runs the same hook.
    const { proc } = await startWorkerProcess({ FFPROBE_PATH: hung.path, WORKER_SHUTDOWN_GRACE_MS: '500', FFMPEG_KILL_GRACE_MS: '300', OTEL_SDK_DISABLED: 'true' });
    await queue.add(JOB_THUMBNAIL, await storeVideo('requeue-me'), { jobId: 'requeue-me', attempts: 3 });
    await waitFor(() => existsSync(hung.pidFile), 15_000, 'the worker to start the hung ffprobe');
    expect(await state('requeue-me')).toBe('active');

    proc.proc.kill('SIGTERM');
    const exit = await exited(proc);
    expect(exit.code).toBe(0);
    expect(await state('requeue-me')).toBe('waiting');
    const job = await queue.getJob('requeue-me');
    expect(job?.attemptsMade).toBe(0);
    const pid = Number(readFileSync(hung.pidFile, 'utf8').trim());
    expect(() => process.kill(pid, 0), 'the hung ffprobe was killed').toThrow();

    // Not lost: a healthy worker picks it up.
    const w = createThumbnailWorker({ redisUrl: redis.url, s3, workDir: dir.path });
    try {
      await waitFor(async () => (await state('requeue-me')) === 'completed', 20_000, 'the requeued job to complete');
    } finally {
      await w.close(1000);
    }
  });
});
