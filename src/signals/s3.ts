// S3 boundary signals (src/lib/s3.ts owns every S3 call).

export const S3_OPERATIONS = [
  'head_object',
  'get_object',
  'get_signed_url',
  'put_object',
  'create_multipart_upload',
  'upload_part',
  'complete_multipart_upload',
  'abort_multipart_upload',
  'delete_object',
  'list_objects',
  'head_bucket',
] as const;
export type S3Operation = (typeof S3_OPERATIONS)[number];

/** Span name of an S3 operation: `s3.<operation>` (the plan's `s3.get_signed_url`). */
export const s3SpanName = (op: S3Operation): `s3.${S3Operation}` => `s3.${op}`;

export const S3_ATTR = {
  bucket: 's3.bucket',
  key: 's3.key',
  operation: 's3.operation',
  range: 's3.range',
  partNumber: 's3.part_number',
  uploadId: 's3.upload_id',
  statusCode: 's3.status_code',
  prefix: 's3.prefix',
} as const;

/** S3 operation latency by operation and outcome. */
export const S3_DURATION = 's3_operation_duration_seconds';
export const S3_LABELS = { operation: 's3_operation', outcome: 'outcome' } as const;
/**
 * `canceled`: the caller aborted the call (the viewer went away, e.g. a player seeking away from a
 * range it had asked for). Not a failure of S3: counted apart, outside the error ratio's errors.
 */
export const OUTCOMES = ['success', 'error', 'canceled'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export const S3_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** S3 error ratio above which the dependency alert fires. */
export const S3_ERROR_RATIO_THRESHOLD = 0.05;
