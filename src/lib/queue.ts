// Producer side of the thumbnail queue (BullMQ on Redis). The consumer is src/worker/.
// Each enqueue is a PRODUCER span; the W3C trace context of that span travels in data.otel, so
// the worker's `queue.job thumbnail` span joins the upload's trace.
import { context, propagation, SpanKind } from '@opentelemetry/api';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  ATTR,
  EVENT_JOB_ENQUEUED,
  JOB_THUMBNAIL,
  MESSAGING_ATTR,
  MESSAGING_SYSTEM,
  QUEUE_KEEP_COMPLETED,
  QUEUE_KEEP_FAILED,
  QUEUE_THUMBNAIL,
  THUMBNAIL_JOB_ATTEMPTS,
  THUMBNAIL_JOB_BACKOFF_MS,
  queueEnqueueSpanName,
  type ThumbnailJobData,
} from '../signals/index.ts';
import { addSpanEvent, traceAsync } from '../telemetry/index.ts';
// ioredis leaves String.prototype in V8's dictionary mode; this import restores it (see the module).
import './fast-string-prototype.ts';

export type ThumbnailQueue = Queue<ThumbnailJobData>;

export function createThumbnailQueue(redis: Redis, onError: (err: Error) => void = () => {}): ThumbnailQueue {
  const queue = new Queue<ThumbnailJobData>(QUEUE_THUMBNAIL, { connection: redis });
  // A Queue re-emits connection errors; unhandled they would crash the process.
  queue.on('error', onError);
  return queue;
}

/** Adds a thumbnail job (job id = video id, so a retried upload does not enqueue twice). */
export function enqueueThumbnail(queue: ThumbnailQueue, data: Omit<ThumbnailJobData, 'otel'> & { otel?: Record<string, string> }): Promise<string> {
  return traceAsync(
    queueEnqueueSpanName(QUEUE_THUMBNAIL),
    async () => {
      const otel: Record<string, string> = {};
      propagation.inject(context.active(), otel);
      const job = await queue.add(JOB_THUMBNAIL, { ...data, otel } as ThumbnailJobData, {
        jobId: data.videoId,
        attempts: THUMBNAIL_JOB_ATTEMPTS,
        backoff: { type: 'exponential', delay: THUMBNAIL_JOB_BACKOFF_MS },
        removeOnComplete: QUEUE_KEEP_COMPLETED,
        removeOnFail: QUEUE_KEEP_FAILED,
      });
      const id = job.id ?? data.videoId;
      addSpanEvent(EVENT_JOB_ENQUEUED, { [MESSAGING_ATTR.messageId]: id, [ATTR.videoId]: data.videoId });
      return id;
    },
    {
      [MESSAGING_ATTR.system]: MESSAGING_SYSTEM,
      [MESSAGING_ATTR.operation]: 'send',
      [MESSAGING_ATTR.destination]: QUEUE_THUMBNAIL,
      [ATTR.videoId]: data.videoId,
    },
    { kind: SpanKind.PRODUCER },
  );
}
