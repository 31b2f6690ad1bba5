// Queue (BullMQ on Redis) signals shared by the producer (video-api) and the consumer (video-worker).

export const QUEUE_THUMBNAIL = 'thumbnail';
export const JOB_THUMBNAIL = 'thumbnail';
/** Span of a consumed job: `queue.job thumbnail`. */
export const queueJobSpanName = (job: string): string => `queue.job ${job}`;

/** Payload of a thumbnail job. `otel` carries the W3C trace context of the upload request. */
export interface ThumbnailJobData {
  videoId: string;
  bucket: string;
  key: string;
  size: number;
  contentType: string;
  otel: Record<string, string>;
}

/** Object key of a video's thumbnail (JPEG) in the videos bucket. */
export const thumbnailKey = (videoId: string): string => `thumbnails/${videoId}.jpg`;
export const THUMBNAIL_CONTENT_TYPE = 'image/jpeg';

// Retries (attempts, exponential backoff) and how many finished jobs Redis keeps are set per job
// by the producer: THUMBNAIL_JOB_ATTEMPTS, THUMBNAIL_JOB_BACKOFF_MS, QUEUE_KEEP_COMPLETED and
// QUEUE_KEEP_FAILED in api.ts (a thumbnail job is idempotent: same input, same output key).

/**
 * Whole-job timeout: download + probe + thumbnail + upload of a typical video takes seconds;
 * two minutes means something hangs. On timeout FFmpeg is killed and the attempt fails (retried).
 */
export const THUMBNAIL_JOB_TIMEOUT_MS = 120_000;
/** One FFmpeg/ffprobe run: killed (SIGTERM, then SIGKILL after the grace) past this. */
export const FFMPEG_TIMEOUT_MS = 60_000;
/** Time FFmpeg gets between SIGTERM and SIGKILL. */
export const FFMPEG_KILL_GRACE_MS = 2_000;
/** Characters of FFmpeg's stderr kept on a failed span (the error is at the end). */
export const FFMPEG_STDERR_TAIL_CHARS = 2_000;
/** Thumbnail offset: 10 % into the video, clamped so short clips and long films both get a real frame. */
export const THUMBNAIL_OFFSET_RATIO = 0.1;
export const THUMBNAIL_OFFSET_MIN_SECONDS = 0;
export const THUMBNAIL_OFFSET_MAX_SECONDS = 30;
/** Thumbnail width in pixels (height keeps the aspect ratio). */
export const THUMBNAIL_WIDTH = 640;
/** Ranged download chunk: bounded memory per job whatever the video size. */
export const WORKER_DOWNLOAD_CHUNK_BYTES = 8 * 1024 * 1024;
/** Jobs one worker process runs at once: FFmpeg is CPU-bound, one per core is plenty. */
export const WORKER_CONCURRENCY = 1;
/**
 * SIGTERM: the worker stops taking jobs and lets the active one finish for this long, then aborts
 * it (FFmpeg killed) and puts it back in `waiting` for another worker. Below the 5 s bound the
 * telemetry bootstrap gives each shutdown hook, itself below compose's 10 s stop grace.
 */
export const WORKER_SHUTDOWN_GRACE_MS = 4_000;

/** Span names of the FFmpeg steps. */
export const FFMPEG_STEPS = ['probe', 'thumbnail'] as const;
export type FfmpegStep = (typeof FFMPEG_STEPS)[number];
export const ffmpegSpanName = (step: FfmpegStep): `ffmpeg.${FfmpegStep}` => `ffmpeg.${step}`;
/** Worker span around the ranged S3 download of one job's video. */
export const SPAN_WORKER_DOWNLOAD = 'worker.download';

/** Span attributes of FFmpeg runs and jobs (OTel messaging semantic conventions where they exist). */
export const FFMPEG_ATTR = {
  exitCode: 'process.exit.code',
  signal: 'process.signal',
  durationMs: 'ffmpeg.duration_ms',
  stderrTail: 'ffmpeg.stderr_tail',
  timedOut: 'ffmpeg.timed_out',
  offsetSeconds: 'ffmpeg.offset_seconds',
  videoDuration: 'video.duration_seconds',
  videoCodec: 'video.codec',
  videoWidth: 'video.width',
  videoHeight: 'video.height',
} as const;
export const MESSAGING_ATTR = {
  system: 'messaging.system',
  operation: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destination: 'messaging.destination.name',
  messageId: 'messaging.message.id',
  attempt: 'messaging.bullmq.job.attempt',
  attempts: 'messaging.bullmq.job.attempts',
} as const;
export const MESSAGING_SYSTEM = 'bullmq';

/** Queue depth by state, read from the Queue on every scrape. */
export const QUEUE_JOBS = 'queue_jobs';
export const QUEUE_JOBS_HELP = 'Jobs in the queue by state (BullMQ job counts, read on scrape).';
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];
export const QUEUE_LABELS = { queue: 'queue', state: 'state', outcome: 'outcome', step: 'step' } as const;

/** Job attempt duration by outcome: `completed`, `retry` (failed, will be retried), `failed` (final). */
export const QUEUE_JOB_DURATION = 'queue_job_duration_seconds';
export const QUEUE_JOB_DURATION_HELP = 'Duration of queue job attempts by queue and outcome.';
export const JOB_OUTCOMES = ['completed', 'retry', 'failed', 'requeued'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];
/** Seconds: thumbnails take ~0.1-10 s; the top buckets catch the job timeout. */
export const QUEUE_JOB_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] as const;
/** Age of a job when a worker picks it up (queueing delay: the worker pool is too small when it grows). */
export const QUEUE_JOB_WAIT = 'queue_job_wait_seconds';
export const QUEUE_JOB_WAIT_HELP = 'Time from enqueue to the start of processing, by queue.';
export const QUEUE_JOB_WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300] as const;

/** FFmpeg/ffprobe run duration by step and outcome (`success`, `error`, `timeout`). */
export const FFMPEG_DURATION = 'ffmpeg_duration_seconds';
export const FFMPEG_DURATION_HELP = 'Duration of FFmpeg runs by step (probe, thumbnail) and outcome.';
export const FFMPEG_OUTCOMES = ['success', 'error', 'timeout'] as const;
export type FfmpegOutcome = (typeof FFMPEG_OUTCOMES)[number];
export const FFMPEG_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;
/** Share of failed thumbnail jobs (final failures) above which the worker alert fires. */
export const JOB_FAILURE_RATIO_THRESHOLD = 0.05;
