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
