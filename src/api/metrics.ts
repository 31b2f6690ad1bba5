// video-api business metrics (the HTTP request histogram is telemetry's, per route class).
// Every labelled series is created up front so rates exist from the first scrape.
import {
  ACCESS_OUTCOMES,
  UPLOAD_BYTES,
  UPLOAD_FAILURES,
  UPLOAD_FAILURE_REASONS,
  UPLOAD_PARTS,
  UPLOAD_SIZE,
  UPLOAD_SIZE_BUCKETS,
  VIDEO_ACCESS_CHECKS,
  VIDEO_BYTES_SERVED,
  VIDEO_RANGE_BUCKETS,
  VIDEO_RANGE_SIZE,
  type AccessOutcome,
  type UploadFailureReason,
} from '../signals/index.ts';
import { counter, histogram } from '../telemetry/index.ts';

const videoBytesServed = counter(VIDEO_BYTES_SERVED, 'Bytes of video sent to clients by proxied streaming.', []);
// Sizes are not latencies: no exemplars (a trace per size bucket tells little).
const videoRangeSize = histogram(VIDEO_RANGE_SIZE, 'Size of byte ranges served by proxied streaming, in bytes.', [], VIDEO_RANGE_BUCKETS, false);
const accessChecks = counter(VIDEO_ACCESS_CHECKS, 'Video access checks by outcome.', ['outcome']);
const uploadBytes = counter(UPLOAD_BYTES, 'Bytes received by uploads, counted as parts reach S3.', []);
const uploadSize = histogram(UPLOAD_SIZE, 'Size of completed uploads, in bytes.', [], UPLOAD_SIZE_BUCKETS, false);
const uploadParts = counter(UPLOAD_PARTS, 'Multipart parts uploaded to S3.', []);
const uploadFailures = counter(UPLOAD_FAILURES, 'Uploads that did not complete, by reason.', ['reason']);

const accessChildren = new Map(ACCESS_OUTCOMES.map((o) => [o, accessChecks.labels({ outcome: o })] as const));
const failureChildren = new Map(UPLOAD_FAILURE_REASONS.map((r) => [r, uploadFailures.labels({ reason: r })] as const));
videoBytesServed.inc(0);
uploadBytes.inc(0);
uploadParts.inc(0);

export const apiMetrics = {
  accessCheck(outcome: AccessOutcome): void {
    accessChildren.get(outcome)?.inc();
  },
  bytesServed(bytes: number): void {
    if (bytes > 0) videoBytesServed.inc(bytes);
  },
  rangeServed(bytes: number): void {
    videoRangeSize.observe(bytes);
  },
  partUploaded(bytes: number): void {
    uploadParts.inc();
    uploadBytes.inc(bytes);
  },
  uploadCompleted(bytes: number): void {
    uploadSize.observe(bytes);
  },
  uploadFailed(reason: UploadFailureReason): void {
    failureChildren.get(reason)?.inc();
  },
};
