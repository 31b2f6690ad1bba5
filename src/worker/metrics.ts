// video-worker metrics: queue depth by state (read from BullMQ on every scrape), job attempt
// duration by outcome, and queueing delay. FFmpeg durations are recorded by src/lib/ffmpeg.ts.
import { trace } from '@opentelemetry/api';
import type { Queue } from 'bullmq';
import {
  JOB_OUTCOMES,
  QUEUE_JOBS,
  QUEUE_JOBS_HELP,
  QUEUE_JOB_DURATION,
  QUEUE_JOB_DURATION_BUCKETS,
  QUEUE_JOB_DURATION_HELP,
  QUEUE_JOB_WAIT,
  QUEUE_JOB_WAIT_BUCKETS,
  QUEUE_JOB_WAIT_HELP,
  QUEUE_LABELS,
  QUEUE_STATES,
  type JobOutcome,
} from '../signals/index.ts';
import { gauge, histogram, observe } from '../telemetry/index.ts';

/** Queues whose depth is reported (a process may run several workers, tests do). */
const watched = new Map<string, Queue>();

export function watchQueueDepth(queue: Queue): () => void {
  watched.set(queue.name, queue);
  return () => {
    if (watched.get(queue.name) === queue) watched.delete(queue.name);
  };
}

gauge(QUEUE_JOBS, QUEUE_JOBS_HELP, [QUEUE_LABELS.queue, QUEUE_LABELS.state], async function collect() {
  this.reset();
  for (const [name, queue] of watched) {
    // One round trip per scrape; a Redis outage shows as missing samples (and the scrape still answers).
    const counts = await queue.getJobCounts(...QUEUE_STATES).catch(() => undefined);
    if (!counts) continue;
    for (const state of QUEUE_STATES) this.set({ [QUEUE_LABELS.queue]: name, [QUEUE_LABELS.state]: state }, counts[state] ?? 0);
  }
});

const jobDuration = histogram(QUEUE_JOB_DURATION, QUEUE_JOB_DURATION_HELP, [QUEUE_LABELS.queue, QUEUE_LABELS.outcome], QUEUE_JOB_DURATION_BUCKETS);
const jobWait = histogram(QUEUE_JOB_WAIT, QUEUE_JOB_WAIT_HELP, [QUEUE_LABELS.queue], QUEUE_JOB_WAIT_BUCKETS);

/** Pre-creates the series of a queue so rates and ratios have data from the first scrape. */
export function zeroJobSeries(queue: string): void {
  for (const outcome of JOB_OUTCOMES) jobDuration.zero({ [QUEUE_LABELS.queue]: queue, [QUEUE_LABELS.outcome]: outcome });
  jobWait.zero({ [QUEUE_LABELS.queue]: queue });
}

/** Exemplar (trace_id) when a sampled span is active; the object form otherwise (prom-client needs it). */
function observeAny<K extends string>(h: ReturnType<typeof histogram<K>>, labels: Partial<Record<K, string>>, value: number): void {
  const ctx = trace.getActiveSpan()?.spanContext();
  if (ctx && ctx.traceFlags & 1) observe(h, labels, value);
  else h.observe({ labels, value });
}

export function recordJob(queue: string, outcome: JobOutcome, seconds: number): void {
  observeAny(jobDuration, { [QUEUE_LABELS.queue]: queue, [QUEUE_LABELS.outcome]: outcome }, seconds);
}

export function recordJobWait(queue: string, seconds: number): void {
  observeAny(jobWait, { [QUEUE_LABELS.queue]: queue }, Math.max(0, seconds));
}
