// Span export that can fail without hurting the service, and says so in metrics.
//
// - createOtlpSpanProcessor: the service's span pipeline: spans encoded to OTLP protobuf as they
//   end (encoding-span-processor.ts; bytes counted in otel_span_export_bytes_total, the input of
//   the storage projection) and sent by the stock OTLP/HTTP delegate on the export thread
//   (export-thread.ts), off the event loop that serves requests.
// - createOtlpSpanExporter / createOtlpLogExporter: the same transport behind the stock exporter
//   interface, a batch serialized on this thread by the stock serializers.
// - CountingSpanExporter: wraps any exporter, counts exported / failed spans, never throws.
// - CountingBatchSpanProcessor: a BatchSpanProcessor that counts the spans it drops when its
//   bounded queue (SPAN_BATCH.maxQueueSize) is full, so memory stays bounded and loss is visible.
// - batchLimits: SPAN_BATCH / LOG_BATCH with the standard OTEL_BSP_* / OTEL_BLRP_* variables
//   applied (our processors take explicit limits, which the stock ones would not read them over).
import { diag, type Context } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor, type BatchSpanProcessorOptions, type ReadableSpan, type Span, type SpanExporter } from '@opentelemetry/sdk-trace';
import client from 'prom-client';
import { SPAN_BATCH, SPAN_EXPORT_BYTES, SPAN_EXPORT_ERRORS, SPANS_DROPPED, SPANS_EXPORTED, SPANS_STARTED } from '../signals/index.ts';
import { EncodingBatchSpanProcessor, type EncodedSpanSink, type EncodingProcessorOptions } from './encoding-span-processor.ts';
import { ThreadedOtlpExporter, type ThreadedExporterOptions } from './export-thread.ts';
import { registry } from './metrics.ts';

function counterOnce(name: string, help: string): client.Counter {
  // Counters are created once per process (several startTelemetry/shutdown cycles in tests
  // share them). The registry standardizes counter names without `_total`.
  const existing = registry.getSingleMetric(name.replace(/_total$/, '')) ?? registry.getSingleMetric(name);
  if (existing) return existing as client.Counter;
  return new client.Counter({ name, help, registers: [registry] });
}

let counters:
  | { exported: client.Counter; dropped: client.Counter; errors: client.Counter; bytes: client.Counter; started: client.Counter }
  | undefined;

/** The telemetry-health counters (created on first use, shared by every SDK instance). */
export function exportCounters(): NonNullable<typeof counters> {
  counters ??= {
    exported: counterOnce(SPANS_EXPORTED, 'Spans successfully handed to the trace backend.'),
    dropped: counterOnce(SPANS_DROPPED, 'Spans dropped before export (queue full or export failed).'),
    errors: counterOnce(SPAN_EXPORT_ERRORS, 'Failed span export calls (backend down, slow or refusing).'),
    bytes: counterOnce(SPAN_EXPORT_BYTES, 'Bytes of OTLP protobuf produced for span export (storage projection).'),
    started: counterOnce(SPANS_STARTED, 'Sampled spans started (recorded and exported unless dropped).'),
  };
  return counters;
}

export type OtlpExporterOptions = ThreadedExporterOptions;

/**
 * OTLP/HTTP protobuf span exporter: serialized here with the stock serializer (the encoded bytes
 * are counted for the storage projection), sent from the export thread (export-thread.ts).
 */
export function createOtlpSpanExporter(options: OtlpExporterOptions = {}): SpanExporter & EncodedSpanSink {
  return new ThreadedOtlpExporter<ReadableSpan>('TRACES', ProtobufTraceSerializer, options, (n) => exportCounters().bytes.inc(n));
}

/**
 * The service's span pipeline: spans encoded as they end (encoding-span-processor.ts) and sent by
 * the threaded OTLP/HTTP protobuf exporter, with the telemetry-health counters.
 */
export function createOtlpSpanProcessor(options: OtlpExporterOptions = {}, limits: EncodingProcessorOptions = SPAN_BATCH): EncodingBatchSpanProcessor {
  const c = exportCounters();
  return new EncodingBatchSpanProcessor(createOtlpSpanExporter(options), {
    started: () => c.started.inc(),
    exported: (n) => c.exported.inc(n),
    dropped: (n) => c.dropped.inc(n),
    exportFailed: () => c.errors.inc(),
    bytes: (n) => c.bytes.inc(n),
  }, limits);
}

/** The batch limits OTEL_BSP_* (spans) and OTEL_BLRP_* (log records) can set: the encoding processor's. */
export type BatchLimits = EncodingProcessorOptions;

const BATCH_VARIABLES: Record<keyof BatchLimits, string> = {
  maxQueueSize: 'MAX_QUEUE_SIZE',
  maxExportBatchSize: 'MAX_EXPORT_BATCH_SIZE',
  scheduledDelayMillis: 'SCHEDULE_DELAY',
  exportTimeoutMillis: 'EXPORT_TIMEOUT',
};

/**
 * `defaults` (SPAN_BATCH or LOG_BATCH) with the standard variables `<prefix>_MAX_QUEUE_SIZE`,
 * `_MAX_EXPORT_BATCH_SIZE`, `_SCHEDULE_DELAY` and `_EXPORT_TIMEOUT` applied. A value that is not
 * a whole number (at least 1 for the sizes, 0 or more for the times) is ignored with a warning
 * naming the variable; a batch size above the queue size is cut to it, as the spec says.
 */
export function batchLimits(prefix: 'OTEL_BSP' | 'OTEL_BLRP', defaults: BatchLimits, env: NodeJS.ProcessEnv = process.env): BatchLimits {
  const limits = { ...defaults };
  for (const key of Object.keys(BATCH_VARIABLES) as (keyof BatchLimits)[]) {
    const name = `${prefix}_${BATCH_VARIABLES[key]}`;
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    const min = key === 'maxQueueSize' || key === 'maxExportBatchSize' ? 1 : 0;
    if (!Number.isInteger(n) || n < min) {
      diag.warn(`${name}=${JSON.stringify(raw)} is not a whole number >= ${min}; using ${defaults[key]}`);
      continue;
    }
    limits[key] = n;
  }
  if (limits.maxExportBatchSize > limits.maxQueueSize) limits.maxExportBatchSize = limits.maxQueueSize;
  return limits;
}

/** OTLP/HTTP protobuf log record exporter, sent from the export thread like the spans. */
export function createOtlpLogExporter(options: OtlpExporterOptions = {}): LogRecordExporter {
  return new ThreadedOtlpExporter<ReadableLogRecord>('LOGS', ProtobufLogsSerializer, options);
}

/** Counts exported spans and export failures; never lets an exporter exception escape. */
export class CountingSpanExporter implements SpanExporter {
  private readonly inner: SpanExporter;

  constructor(inner: SpanExporter) {
    this.inner = inner;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const c = exportCounters();
    const n = spans.length;
    let called = false;
    const done = (result: ExportResult): void => {
      if (called) return;
      called = true;
      if (result.code === ExportResultCode.SUCCESS) c.exported.inc(n);
      else {
        c.errors.inc();
        c.dropped.inc(n);
        diag.debug(`span export failed: ${result.error?.message ?? 'unknown error'}`);
      }
      resultCallback(result);
    };
    try {
      this.inner.export(spans, done);
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown().catch((err: unknown) => diag.warn(`span exporter shutdown failed: ${String(err)}`));
  }

  forceFlush(): Promise<void> {
    return (this.inner.forceFlush?.() ?? Promise.resolve()).catch((err: unknown) => diag.warn(`span exporter flush failed: ${String(err)}`));
  }
}

/**
 * BatchSpanProcessor that counts spans dropped because the bounded queue is full. The base class
 * drops silently when it already holds maxQueueSize spans; we mirror its check to count them.
 */
export class CountingBatchSpanProcessor extends BatchSpanProcessor {
  private readonly maxQueueSize: number;

  constructor(options: BatchSpanProcessorOptions) {
    super(options);
    this.maxQueueSize = options.maxQueueSize ?? 2048;
  }

  override onStart(span: Span, parentContext: Context): void {
    if (span.spanContext().traceFlags & 1) exportCounters().started.inc();
    super.onStart(span, parentContext);
  }

  override onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & 1) === 0) return;
    // The base class's queue is not public API; read its length defensively (drop accounting only).
    const q = (this as unknown as { _finishedSpans?: unknown[] })._finishedSpans;
    if (Array.isArray(q) && q.length >= this.maxQueueSize) exportCounters().dropped.inc();
    super.onEnd(span);
  }
}
