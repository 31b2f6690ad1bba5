// The two helpers application code uses (besides @opentelemetry/api): traceAsync and addSpanEvent.
import { INVALID_SPANID, INVALID_TRACEID, SpanStatusCode, trace, TraceFlags, type Attributes, type Span, type SpanKind, type Tracer } from '@opentelemetry/api';
import { ERROR_TYPE_CANCELED } from '../signals/index.ts';
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
  /**
   * The signal the caller can abort the operation with: a rejection after it aborted is a
   * cancellation, not a failure (the span gets `error.type` = canceled, no ERROR status and no
   * exception event).
   */
  cancelSignal?: AbortSignal;
}

/**
 * The active span when it belongs to an unsampled trace under our default sampler, else
 * undefined. That sampler is ParentBased: a child of an unsampled parent (local or remote) is
 * never sampled, so the SDK would only hand back a non-recording span with a fresh id.
 */
function unsampledParent(): Span | undefined {
  if (telemetryState.rootRatio === undefined) return undefined;
  const parent = trace.getActiveSpan();
  if (parent === undefined || parent.isRecording()) return undefined;
  const sc = parent.spanContext();
  // Not trace.isSpanContextValid: its two regular expressions cost ~2k instructions per call
  // (counted under callgrind). Ids reach a span context from the SDK, our id pool or the W3C
  // propagator (which validates them); the one invalid context in circulation is the all-zero one.
  return (sc.traceFlags & TraceFlags.SAMPLED) === 0 && sc.traceId !== INVALID_TRACEID && sc.spanId !== INVALID_SPANID ? parent : undefined;
}

/**
 * Runs `fn` inside a new active span named `name`. Records an exception event and ERROR status
 * when `fn` throws or rejects (unless `options.cancelSignal` had aborted: then `error.type` =
 * canceled only), then rethrows; always ends the span.
 *
 * Inside an unsampled trace (under the default sampler) `fn` runs in the current context with
 * the parent's non-recording span instead: no attributes are redacted, no span, context or
 * async-context entry is built for a span nobody records. Logs keep the trace id (their span id
 * is the parent's), and outgoing calls propagate the same unsampled trace.
 */
export function traceAsync<T>(
  name: string,
  fn: (span: Span) => Promise<T>,
  attributes?: Attributes,
  options: TraceOptions = {},
): Promise<T> {
  const parent = unsampledParent();
  if (parent !== undefined) {
    try {
      return fn(parent);
    } catch (err) {
      return Promise.reject(err);
    }
  }
  const spanOptions = attributes ? { attributes: redactAttributes(attributes), kind: options.kind } : { kind: options.kind };
  return getTracer().startActiveSpan(name, spanOptions, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      if (options.cancelSignal?.aborted === true) span.setAttribute('error.type', ERROR_TYPE_CANCELED);
      else recordError(span, err);
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
