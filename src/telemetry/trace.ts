// The two helpers application code uses (besides @opentelemetry/api): traceAsync and addSpanEvent.
import { SpanStatusCode, trace, type Attributes, type Span, type SpanKind, type Tracer } from '@opentelemetry/api';
import { redactAttributes, redactString } from './redact.ts';
import { telemetryState } from './state.ts';

export const TRACER_NAME = 'video-platform';
let tracer = trace.getTracer(TRACER_NAME);
let tracerGeneration = telemetryState.generation;

/** The shared tracer, refreshed when an SDK starts or stops (a proxy tracer binds for good). */
export function getTracer(): Tracer {
  if (tracerGeneration !== telemetryState.generation) {
    tracer = trace.getTracer(TRACER_NAME);
    tracerGeneration = telemetryState.generation;
  }
  return tracer;
}

export interface TraceOptions {
  kind?: SpanKind;
}

/**
 * Runs `fn` inside a new active span named `name`. Records an exception event and ERROR status
 * when `fn` throws or rejects, then rethrows; always ends the span.
 */
export function traceAsync<T>(
  name: string,
  fn: (span: Span) => Promise<T>,
  attributes?: Attributes,
  options: TraceOptions = {},
): Promise<T> {
  const spanOptions = attributes ? { attributes: redactAttributes(attributes), kind: options.kind } : { kind: options.kind };
  return getTracer().startActiveSpan(name, spanOptions, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      recordError(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Adds an event to the active span (a no-op when nothing is recording). */
export function addSpanEvent(name: string, attributes?: Attributes): void {
  const span = trace.getActiveSpan();
  if (!span || !span.isRecording()) return;
  span.addEvent(name, redactAttributes(attributes));
}

/** Marks `span` failed with `err` (exception event + ERROR status), secrets redacted. */
export function recordError(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  const e = err instanceof Error ? err : new Error(String(err));
  const message = redactString(e.message);
  span.recordException({ name: e.name, message, stack: e.stack ? redactString(e.stack) : undefined });
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
