// The batch span processor of the default OTLP/protobuf export: the stock BatchSpanProcessor's
// queue, batch and timer rules (maxQueueSize, maxExportBatchSize, scheduledDelayMillis,
// exportTimeoutMillis, one scheduled export at a time, forceFlush and shutdown sending
// everything), but each sampled span is encoded to OTLP protobuf when it ends
// (otlp-span-encoder.ts) instead of being kept as an object and serialized with its whole batch.
//
// Measured with `node bench/span-floor.ts` (docs/benchmarks.md): the per-span CPU of export falls
// to a fraction of the stock path's, and the event loop no longer stops for milliseconds while
// a batch of 512 spans is serialized.
//
// It also counts what the telemetry-health panels show: spans started, exported, dropped (queue
// full, encoding or export failed), failed export calls and encoded bytes.
import { context, diag, TraceFlags, type Context } from '@opentelemetry/api';
import { ExportResultCode, globalErrorHandler, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { EncodedBatch } from './otlp-span-encoder.ts';

/** Where encoded batches go (the threaded OTLP exporter implements it). */
export interface EncodedSpanSink {
  exportEncoded(bytes: Uint8Array, items: number, resultCallback: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

export interface EncodingProcessorCounters {
  started(): void;
  exported(n: number): void;
  dropped(n: number): void;
  exportFailed(): void;
  bytes(n: number): void;
}

export interface EncodingProcessorOptions {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
}

export class EncodingBatchSpanProcessor implements SpanProcessor {
  private readonly sink: EncodedSpanSink;
  private readonly counters: EncodingProcessorCounters;
  private readonly maxQueueSize: number;
  private readonly maxBatch: number;
  private readonly delay: number;
  private readonly timeout: number;
  /** The batch being filled. */
  private batch = new EncodedBatch();
  /** Full batches waiting for export. */
  private readonly sealed: EncodedBatch[] = [];
  /** Spans encoded and not yet handed to the sink (the queue the limits apply to). */
  private queued = 0;
  private exporting = false;
  private timer: NodeJS.Timeout | undefined;
  private shutdownPromise: Promise<void> | undefined;
  private droppedSinceWarning = 0;

  constructor(sink: EncodedSpanSink, counters: EncodingProcessorCounters, options: EncodingProcessorOptions) {
    this.sink = sink;
    this.counters = counters;
    this.maxQueueSize = options.maxQueueSize;
    this.maxBatch = Math.min(options.maxExportBatchSize, options.maxQueueSize);
    this.delay = options.scheduledDelayMillis;
    this.timeout = options.exportTimeoutMillis;
  }

  onStart(span: Span, _parentContext: Context): void {
    if (span.spanContext().traceFlags & TraceFlags.SAMPLED) this.counters.started();
  }

  onEnd(span: ReadableSpan): void {
    if (this.shutdownPromise !== undefined || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queued >= this.maxQueueSize) {
      if (this.droppedSinceWarning++ === 0) diag.debug('maxQueueSize reached, dropping spans');
      this.counters.dropped(1);
      return;
    }
    if (this.droppedSinceWarning > 0) {
      diag.warn(`Dropped ${this.droppedSinceWarning} spans because maxQueueSize reached`);
      this.droppedSinceWarning = 0;
    }
    try {
      this.batch.add(span);
    } catch (err) {
      this.counters.dropped(1);
      diag.warn(`span ${span.name} could not be encoded for export: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.queued++;
    if (this.batch.count >= this.maxBatch) this.seal();
    this.maybeStartTimer();
  }

  forceFlush(): Promise<void> {
    if (this.shutdownPromise !== undefined) return this.shutdownPromise;
    return this.flushAll();
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= Promise.resolve()
      .then(() => this.flushAll())
      .then(() => this.sink.shutdown());
    return this.shutdownPromise;
  }

  private seal(): void {
    if (this.batch.count === 0) return;
    this.sealed.push(this.batch);
    this.batch = new EncodedBatch();
  }

  private async flushAll(): Promise<void> {
    this.seal();
    const sends: Promise<void>[] = [];
    while (this.sealed.length > 0) sends.push(this.flushOne());
    // Each send settles when the export thread answers: nothing is left in flight after this.
    await Promise.all(sends);
  }

  /** Hands the oldest batch (or the one being filled) to the sink; resolves when it is settled. */
  private flushOne(): Promise<void> {
    this.clearTimer();
    if (this.sealed.length === 0) this.seal();
    const batch = this.sealed.shift();
    if (!batch) return Promise.resolve();
    this.queued -= batch.count;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.counters.dropped(batch.count);
        this.counters.exportFailed();
        reject(new Error('Timeout'));
      }, this.timeout);
      const done = (result: ExportResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (result.code === ExportResultCode.SUCCESS) {
          this.counters.exported(batch.count);
          resolve();
        } else {
          this.counters.exportFailed();
          this.counters.dropped(batch.count);
          diag.debug(`span export failed: ${result.error?.message ?? 'unknown error'}`);
          reject(result.error ?? new Error('span export failed'));
        }
      };
      context.with(suppressTracing(context.active()), () => {
        const send = (): void => {
          try {
            const bytes = batch.finish();
            this.counters.bytes(bytes.byteLength);
            this.sink.exportEncoded(bytes, batch.count, done);
          } catch (err) {
            done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
          }
        };
        const pending = batch.resources().filter((r) => r.asyncAttributesPending && r.waitForAsyncAttributes);
        if (pending.length === 0) send();
        else
          Promise.all(pending.map((r) => r.waitForAsyncAttributes?.())).then(send, (err: unknown) =>
            done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) }),
          );
      });
    });
  }

  private maybeStartTimer(): void {
    if (this.exporting) return;
    const flush = (): void => {
      this.exporting = true;
      this.flushOne()
        .catch((err: unknown) => globalErrorHandler(err as Error))
        .finally(() => {
          this.exporting = false;
          if (this.queued > 0) {
            this.clearTimer();
            this.maybeStartTimer();
          }
        });
    };
    if (this.sealed.length > 0) {
      flush();
      return;
    }
    if (this.timer !== undefined || this.queued === 0) return;
    this.timer = setTimeout(flush, this.delay);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
