// video-api signals not covered by video.ts / s3.ts / queue.ts: dependency timeouts, presigned
// URL lifetime, readiness and fault injection.

/** Redis connect timeout: a dead Redis must turn into a 503 quickly, not a hung upload. */
export const REDIS_CONNECT_TIMEOUT_MS = 2000;
/** Redis command timeout (enqueue, ping). */
export const REDIS_COMMAND_TIMEOUT_MS = 2000;
/** Upper bound of the background reconnect delay. */
export const REDIS_RECONNECT_MAX_DELAY_MS = 2000;
/** S3 socket connect timeout. */
export const S3_CONNECT_TIMEOUT_MS = 3000;
/**
 * S3 socket idle timeout: a connection that sends nothing for this long (a hung S3, a stalled
 * proxy) fails the call instead of holding the request forever. Idle, not total: a long video
 * stream that keeps receiving bytes is not cut.
 */
export const S3_SOCKET_IDLE_TIMEOUT_MS = 10_000;

/** Lifetime of presigned video URLs: long enough for a player to start, short enough to not be shared. */
export const PRESIGNED_URL_TTL_SECONDS = 300;
/** Lifetime of session tokens printed by `npm run token` (and the default of signToken). */
export const SESSION_TTL_SECONDS_DEFAULT = 24 * 3600;
/** Session cookie name (the Bearer header works too). */
export const SESSION_COOKIE = 'session';

/** Span of the producer side of a queue job: `queue.enqueue thumbnail`. */
export const queueEnqueueSpanName = (queue: string): string => `queue.enqueue ${queue}`;
/** Thumbnail jobs: retries on worker failure, and how many finished jobs Redis keeps. */
export const THUMBNAIL_JOB_ATTEMPTS = 3;
export const THUMBNAIL_JOB_BACKOFF_MS = 2000;
export const QUEUE_KEEP_COMPLETED = 1000;
export const QUEUE_KEEP_FAILED = 5000;

/** Readiness dependencies reported by GET /readyz. */
export const READINESS_CHECKS = ['s3', 'redis'] as const;
export type ReadinessCheck = (typeof READINESS_CHECKS)[number];
/** Readiness probe timeout per dependency. */
export const READINESS_TIMEOUT_MS = 2000;

/** Video file extensions (and their formats) accepted by upload and streaming. */
export const VIDEO_FORMATS = {
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  avi: 'video/x-msvideo',
} as const;
export type VideoExtension = keyof typeof VIDEO_FORMATS;

/** Fault injection (alert end-to-end tests): env variable names. */
export const FAULT_ERROR_RATIO_ENV = 'FAULT_ERROR_RATIO';
export const FAULT_LATENCY_MS_ENV = 'FAULT_LATENCY_MS';
/** Span event recorded when a fault is injected (so injected errors are obvious in a trace). */
export const EVENT_FAULT_INJECTED = 'fault.injected';

/**
 * Attribute keys of the video/upload span events, exactly as the plan names them
 * (`video.access_check {filename, hasSession, outcome}`, ...).
 */
export const EVENT_ATTR = {
  filename: 'filename',
  hasSession: 'hasSession',
  outcome: 'outcome',
  s3Key: 's3Key',
  signedUrl: 'signedUrl',
  start: 'start',
  end: 'end',
  totalSize: 'totalSize',
  partNumber: 'partNumber',
  bytes: 'bytes',
  totalBytes: 'totalBytes',
  reason: 'reason',
} as const;

/** Visibility of an uploaded video, kept in S3 object metadata next to the owner. */
export const VISIBILITIES = ['private', 'public'] as const;
export type Visibility = (typeof VISIBILITIES)[number];
export const DEFAULT_VISIBILITY: Visibility = 'private';
/** S3 object metadata keys (x-amz-meta-*). */
export const META = { owner: 'owner', visibility: 'visibility', originalFilename: 'original-filename', videoId: 'video-id' } as const;
/** Object key prefix of videos: `videos/<id>.<ext>`; the URL is `/api/videos/<id>.<ext>`. */
export const VIDEO_KEY_PREFIX = 'videos/';
