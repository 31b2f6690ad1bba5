// Video streaming and upload signals: span names, span events, attribute keys and metrics.
// Names carry over from the original app's plan (api.videos.stream, video.s3_redirect, ...).

export const SPAN_VIDEO_STREAM = 'api.videos.stream';
export const SPAN_UPLOAD_STREAM = 'api.upload.stream';

export const EVENT_VIDEO_ACCESS_CHECK = 'video.access_check';
export const EVENT_VIDEO_S3_REDIRECT = 'video.s3_redirect';
export const EVENT_VIDEO_RANGE_REQUEST = 'video.range_request';
export const EVENT_VIDEO_CLIENT_ABORT = 'video.client_abort';
export const EVENT_UPLOAD_PART = 'upload.part_uploaded';
export const EVENT_UPLOAD_REJECTED = 'upload.rejected';
export const EVENT_UPLOAD_ABORTED = 'upload.aborted';
export const EVENT_UPLOAD_COMPLETED = 'upload.completed';
export const EVENT_JOB_ENQUEUED = 'queue.job_enqueued';

/** Every span event type the service emits, for the Traces dashboard's event filter. */
export const VIDEO_EVENTS = [
  EVENT_VIDEO_ACCESS_CHECK,
  EVENT_VIDEO_S3_REDIRECT,
  EVENT_VIDEO_RANGE_REQUEST,
  EVENT_VIDEO_CLIENT_ABORT,
  EVENT_UPLOAD_PART,
  EVENT_UPLOAD_REJECTED,
  EVENT_UPLOAD_ABORTED,
  EVENT_UPLOAD_COMPLETED,
  EVENT_JOB_ENQUEUED,
] as const;

/** Span attribute keys. */
export const ATTR = {
  filename: 'video.filename',
  videoId: 'video.id',
  size: 'video.size',
  format: 'video.format',
  delivery: 'video.delivery',
  hasSession: 'video.has_session',
  accessOutcome: 'video.access_outcome',
  uploadSize: 'upload.size',
  uploadContentType: 'upload.content_type',
  uploadExtension: 'upload.extension',
  uploadParts: 'upload.parts',
  /** Extension of the client's file name, sanitised (the stored extension is sniffed). */
  uploadClientExtension: 'upload.client_extension',
  /** A hash of the user id: never the raw id (DESIGN: personal data hashed or left out). */
  userHash: 'enduser.id_hash',
} as const;

/** Outcomes of video.access_check (bounded, also a metric label). */
export const ACCESS_OUTCOMES = ['granted', 'no_session', 'invalid_session', 'forbidden', 'not_found'] as const;
export type AccessOutcome = (typeof ACCESS_OUTCOMES)[number];

/** Bytes of video sent to clients by proxied streaming. */
export const VIDEO_BYTES_SERVED = 'video_bytes_served_total';
/** Size of served ranges (proxied streaming), in bytes. */
export const VIDEO_RANGE_SIZE = 'video_range_size_bytes';
export const VIDEO_RANGE_BUCKETS = [
  65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864, 268_435_456,
] as const;
/** Video access checks by outcome (auth failures are visible without traces). */
export const VIDEO_ACCESS_CHECKS = 'video_access_checks_total';

/** Bytes received by uploads (counted as parts reach S3). */
export const UPLOAD_BYTES = 'upload_received_bytes_total';
/** Size of completed uploads, in bytes. */
export const UPLOAD_SIZE = 'upload_size_bytes';
export const UPLOAD_SIZE_BUCKETS = [
  1_048_576, 10_485_760, 52_428_800, 104_857_600, 524_288_000, 1_073_741_824, 5_368_709_120,
] as const;
/** Multipart parts uploaded. */
export const UPLOAD_PARTS = 'upload_parts_total';
/** Uploads that did not complete, by reason. */
export const UPLOAD_FAILURES = 'upload_failures_total';
export const UPLOAD_FAILURE_REASONS = ['too_large', 'client_abort', 'bad_request', 's3_error', 'queue_unavailable'] as const;
export type UploadFailureReason = (typeof UPLOAD_FAILURE_REASONS)[number];

/** Upload limits. */
export const UPLOAD_MAX_BYTES_DEFAULT = 2 * 1024 ** 3; // 2 GiB, overridable by UPLOAD_MAX_BYTES
/** Multipart part size: S3's minimum (5 MiB) keeps memory per upload at one part in flight. */
export const UPLOAD_PART_SIZE_BYTES = 5 * 1024 * 1024;
/**
 * First size of an upload's part buffer when the request declares no length (chunked): it doubles
 * up to a part as the body comes. With a Content-Length under a part the buffer is that length.
 * A fresh 5 MiB buffer per small upload made V8 run a full collection every ~12 uploads (external
 * memory pressure; docs/benchmarks.md, "Upload's part buffer").
 */
export const UPLOAD_BUFFER_INITIAL_BYTES = 256 * 1024;
