// The thumbnail job: a BullMQ Worker that joins the upload's trace (the producer's W3C context
// travels in job.data.otel), downloads the video from S3 in ranged chunks, probes it, extracts a
// JPEG with FFmpeg, uploads `thumbnails/<id>.jpg` and tells the owner through the realtime bus.
// A job attempt is bounded by a timeout that kills FFmpeg; failed attempts are retried with
// backoff (job options set by the producer) and final failures stay in `failed` for inspection.
// close() stops taking jobs, lets the active one finish within a grace period, then aborts it and
// puts it back in `waiting` (without spending an attempt) so another worker picks it up.
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { context, propagation, ROOT_CONTEXT, SpanKind, type Span } from '@opentelemetry/api';
import { Queue, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { FfmpegError, probe, thumbnail, thumbnailOffset, type ProbeResult } from '../lib/ffmpeg.ts';
import { publishRealtime } from '../lib/realtime-bus.ts';
import type { S3Store } from '../lib/s3.ts';
import {
  ATTR,
  FFMPEG_KILL_GRACE_MS,
  FFMPEG_TIMEOUT_MS,
  MESSAGING_ATTR,
  MESSAGING_SYSTEM,
  PRESIGNED_URL_TTL_SECONDS,
  QUEUE_THUMBNAIL,
  REALTIME_CHANNEL,
  REDIS_COMMAND_TIMEOUT_MS,
  RT_THUMBNAIL_FAILED,
  RT_THUMBNAIL_READY,
  RT_UPLOAD_PROGRESS,
  SPAN_WORKER_DOWNLOAD,
  THUMBNAIL_CONTENT_TYPE,
  THUMBNAIL_JOB_TIMEOUT_MS,
  META,
  WORKER_CONCURRENCY,
  WORKER_DOWNLOAD_CHUNK_BYTES,
  WORKER_SHUTDOWN_GRACE_MS,
  queueJobSpanName,
  thumbnailKey,
  type RealtimeEvent,
  type RealtimePayloads,
  type ThumbnailJobData,
} from '../signals/index.ts';
import { addSpanEvent, createLogger, traceAsync } from '../telemetry/index.ts';
import { recordJob, recordJobWait, watchQueueDepth, zeroJobSeries } from './metrics.ts';
import type { RecordThumbnail } from './record.ts';
// ioredis leaves String.prototype in V8's dictionary mode; this import restores it (see the module).
import '../lib/fast-string-prototype.ts';

export interface ThumbnailJobResult {
  thumbnailKey: string;
  duration: number;
  width: number;
  height: number;
  codec: string;
}

export interface ThumbnailWorkerDeps {
  /** Redis for BullMQ and the realtime bus. */
  redisUrl: string;
  s3: S3Store;
  /** Queue name (default QUEUE_THUMBNAIL; tests isolate themselves with their own). */
  queueName?: string;
  /** Realtime channel (default REALTIME_CHANNEL). */
  realtimeChannel?: string;
  concurrency?: number;
  jobTimeoutMs?: number;
  ffmpegTimeoutMs?: number;
  ffmpegKillGraceMs?: number;
  shutdownGraceMs?: number;
  /** Parent of the per-job temp dirs (default: the OS temp dir). */
  workDir?: string;
  /** Ranged download chunk size (default WORKER_DOWNLOAD_CHUNK_BYTES). */
  downloadChunkBytes?: number;
  /** FFmpeg binaries (default FFMPEG_PATH / FFPROBE_PATH, else on PATH). */
  ffmpegPath?: string;
  ffprobePath?: string;
  /** Records the finished thumbnail (PostgreSQL when DATABASE_URL is set); a failure fails the attempt. */
  recordThumbnail?: RecordThumbnail;
  /** Start consuming at once (default true). */
  autorun?: boolean;
}

export interface ThumbnailWorker {
  worker: Worker<ThumbnailJobData, ThumbnailJobResult>;
  /** The same queue, for depth metrics and inspection. */
  queue: Queue<ThumbnailJobData>;
  /** Graceful stop: finish the active job within `graceMs`, else requeue it; then close connections. */
  close(graceMs?: number): Promise<void>;
}

/** Abort reason used when the worker shuts down (the job goes back to `waiting`). */
export const SHUTDOWN_REASON = 'worker shutdown';

/** A job attempt that outlived its timeout (FFmpeg or S3 was killed/aborted). */
export class JobTimeoutError extends Error {
  override name = 'JobTimeoutError';
}

const log = createLogger('video-worker');

/** Marker returned (not thrown) from the job span when the job was requeued on shutdown. */
const REQUEUED = Symbol('requeued');

export function createThumbnailWorker(deps: ThumbnailWorkerDeps): ThumbnailWorker {
  const queueName = deps.queueName ?? QUEUE_THUMBNAIL;
  const channel = deps.realtimeChannel ?? REALTIME_CHANNEL;
  const jobTimeoutMs = deps.jobTimeoutMs ?? THUMBNAIL_JOB_TIMEOUT_MS;
  const ffmpegOpts = {
    timeoutMs: deps.ffmpegTimeoutMs ?? FFMPEG_TIMEOUT_MS,
    killGraceMs: deps.ffmpegKillGraceMs ?? FFMPEG_KILL_GRACE_MS,
    ...(deps.ffmpegPath ? { ffmpegPath: deps.ffmpegPath } : {}),
    ...(deps.ffprobePath ? { ffprobePath: deps.ffprobePath } : {}),
  };
  const chunk = deps.downloadChunkBytes ?? WORKER_DOWNLOAD_CHUNK_BYTES;
  const { s3 } = deps;

  // BullMQ blocks on its connection: it needs maxRetriesPerRequest null (it retries itself).
  const connection = new Redis(deps.redisUrl, { maxRetriesPerRequest: null });
  // Publishing is best effort and must never stall a job: a publish waits at most the command
  // timeout (queued while connecting or reconnecting), then the notification is dropped and logged.
  const publisher = new Redis(deps.redisUrl, { maxRetriesPerRequest: 1, commandTimeout: REDIS_COMMAND_TIMEOUT_MS });
  for (const c of [connection, publisher]) c.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));

  const queue = new Queue<ThumbnailJobData>(queueName, { connection });
  queue.on('error', (err) => log.warn({ err: err.message }, 'queue error'));
  const unwatch = watchQueueDepth(queue);
  zeroJobSeries(queueName);

  async function publish<E extends RealtimeEvent>(event: E, ownerId: string | undefined, payload: RealtimePayloads[E]): Promise<void> {
    if (!ownerId) return; // no owner, nobody to tell
    await publishRealtime(publisher, event, ownerId, payload, channel).catch((err: unknown) => {
      // The thumbnail is stored either way; a lost notification is logged, not retried.
      log.warn({ err: (err as Error).message, event }, 'realtime publish failed');
    });
  }

  /** Ranged GETs appended to `file`: memory stays at one chunk whatever the video size. */
  function download(key: string, size: number, file: string, signal: AbortSignal): Promise<void> {
    return traceAsync(
      SPAN_WORKER_DOWNLOAD,
      async (span) => {
        if (size <= 0) throw new Error(`object ${key} is empty`);
        let ranges = 0;
        for (let start = 0; start < size; start += chunk) {
          const end = Math.min(size, start + chunk) - 1;
          const r = await s3.getObject(key, { range: `bytes=${start}-${end}`, signal });
          await pipeline(r.body, createWriteStream(file, { flags: start === 0 ? 'w' : 'a' }), { signal });
          ranges++;
        }
        span.setAttribute('worker.download.ranges', ranges);
      },
      { [ATTR.size]: size, 'worker.download.chunk_bytes': chunk },
    );
  }

  async function runJob(job: Job<ThumbnailJobData>, signal: AbortSignal, state: { ownerId?: string }): Promise<ThumbnailJobResult> {
    const { videoId, key } = job.data;
    const dir = await mkdtemp(join(deps.workDir ?? tmpdir(), 'thumb-'));
    try {
      const info = await s3.headObject(key);
      state.ownerId = info.metadata[META.owner];
      await publish(RT_UPLOAD_PROGRESS, state.ownerId, { videoId, stage: 'processing', totalBytes: info.contentLength });
      const input = join(dir, 'input');
      await download(key, info.contentLength, input, signal);
      const meta: ProbeResult = await probe(input, { ...ffmpegOpts, signal });
      const offsetSeconds = thumbnailOffset(meta.duration);
      const output = join(dir, 'thumbnail.jpg');
      await thumbnail(input, output, { ...ffmpegOpts, offsetSeconds, signal });
      const tKey = thumbnailKey(videoId);
      await s3.putObject(tKey, await readFile(output), {
        contentType: THUMBNAIL_CONTENT_TYPE,
        metadata: {
          [META.videoId]: videoId,
          duration: String(meta.duration),
          width: String(meta.width),
          height: String(meta.height),
          codec: meta.codec,
          ...(state.ownerId ? { [META.owner]: state.ownerId } : {}),
        },
      });
      await deps.recordThumbnail?.({
        videoId,
        ownerId: state.ownerId,
        videoKey: key,
        contentType: info.contentType,
        sizeBytes: info.contentLength,
        visibility: info.metadata[META.visibility] === 'public' ? 'public' : 'private',
        thumbnailKey: tKey,
        width: meta.width,
        height: meta.height,
        offsetSeconds,
        durationSeconds: meta.duration,
        codec: meta.codec,
      });
      const thumbnailUrl = await s3.getSignedUrl(tKey, PRESIGNED_URL_TTL_SECONDS);
      await publish(RT_THUMBNAIL_READY, state.ownerId, { videoId, thumbnailUrl, duration: meta.duration, width: meta.width, height: meta.height });
      return { thumbnailKey: tKey, duration: meta.duration, width: meta.width, height: meta.height, codec: meta.codec };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async function processJob(job: Job<ThumbnailJobData, ThumbnailJobResult>, token?: string, signal?: AbortSignal): Promise<ThumbnailJobResult> {
    const started = performance.now();
    const attempt = job.attemptsMade + 1;
    const attempts = job.opts.attempts ?? 1;
    // The upload request's context: the job span becomes its CHILD, in the same trace.
    const parent = propagation.extract(ROOT_CONTEXT, job.data.otel ?? {});
    const outcome = await context.with(parent, () =>
      traceAsync(
        queueJobSpanName(job.name),
        async (span: Span): Promise<ThumbnailJobResult | typeof REQUEUED> => {
          // Queueing delay of the first start only (retries wait for their backoff on purpose).
          if (job.attemptsStarted <= 1) recordJobWait(queueName, (Date.now() - job.timestamp) / 1000);
          const timeout = AbortSignal.timeout(jobTimeoutMs);
          const jobSignal = signal ? AbortSignal.any([signal, timeout]) : timeout;
          const state: { ownerId?: string } = {};
          try {
            const result = await runJob(job, jobSignal, state);
            span.setAttributes({ [ATTR.format]: result.codec, 'video.duration_seconds': result.duration });
            recordJob(queueName, 'completed', (performance.now() - started) / 1000);
            log.info({ jobId: job.id, videoId: job.data.videoId, attempt }, 'thumbnail job completed');
            return result;
          } catch (err) {
            if (signal?.aborted && signal.reason === SHUTDOWN_REASON && token) {
              // Shutdown: back to `waiting` without spending an attempt.
              addSpanEvent('queue.job_requeued', { reason: SHUTDOWN_REASON });
              recordJob(queueName, 'requeued', (performance.now() - started) / 1000);
              await job.moveToWait(token);
              log.warn({ jobId: job.id, attempt }, 'thumbnail job requeued on shutdown');
              return REQUEUED;
            }
            const error =
              timeout.aborted && !(err instanceof JobTimeoutError)
                ? new JobTimeoutError(`thumbnail job timed out after ${jobTimeoutMs} ms: ${(err as Error).message}`)
                : (err as Error);
            const final = attempt >= attempts;
            if (err instanceof FfmpegError) span.setAttribute('ffmpeg.failed_step', err.step);
            span.setAttribute('queue.job.final_failure', final);
            recordJob(queueName, final ? 'failed' : 'retry', (performance.now() - started) / 1000);
            log.error({ jobId: job.id, videoId: job.data.videoId, attempt, attempts, final, err: error.message }, 'thumbnail job failed');
            await publish(RT_THUMBNAIL_FAILED, state.ownerId, { videoId: job.data.videoId, error: error.message, attempt, final });
            throw error;
          }
        },
        {
          [MESSAGING_ATTR.system]: MESSAGING_SYSTEM,
          [MESSAGING_ATTR.operation]: 'process',
          [MESSAGING_ATTR.operationName]: job.name,
          [MESSAGING_ATTR.destination]: queueName,
          [MESSAGING_ATTR.messageId]: job.id ?? '',
          [MESSAGING_ATTR.attempt]: attempt,
          [MESSAGING_ATTR.attempts]: attempts,
          [ATTR.videoId]: job.data.videoId,
          [ATTR.size]: job.data.size,
        },
        { kind: SpanKind.CONSUMER },
      ),
    );
    // Thrown outside the span: a requeue is not an error of this job.
    if (outcome === REQUEUED) throw new WaitingError();
    return outcome;
  }

  const worker = new Worker<ThumbnailJobData, ThumbnailJobResult>(queueName, processJob, {
    connection,
    concurrency: deps.concurrency ?? WORKER_CONCURRENCY,
    autorun: deps.autorun ?? true,
  });
  worker.on('error', (err) => log.warn({ err: err.message }, 'worker error'));

  let closing: Promise<void> | undefined;
  return {
    worker,
    queue,
    close(graceMs = deps.shutdownGraceMs ?? WORKER_SHUTDOWN_GRACE_MS) {
      closing ??= (async () => {
        const closed = worker.close();
        let timer: NodeJS.Timeout | undefined;
        const inTime = await Promise.race([
          closed.then(() => true),
          new Promise<boolean>((r) => {
            timer = setTimeout(() => r(false), graceMs);
          }),
        ]);
        clearTimeout(timer);
        if (!inTime) {
          worker.cancelAllJobs(SHUTDOWN_REASON);
          await closed;
        }
        unwatch();
        await queue.close();
        publisher.disconnect();
        await connection.quit().catch(() => connection.disconnect());
      })();
      return closing;
    },
  };
}
