// Telemetry pipeline settings: sampling, redaction and the telemetry-health metrics.
import type { DeploymentEnvironment } from './services.ts';

/**
 * `error.type` of a SERVER span whose client went away before the response ended (no ERROR
 * status: the service did not fail; the request counts as 499 in the histogram).
 */
export const ERROR_TYPE_CLIENT_ABORTED = 'client_aborted';
/**
 * `error.type` of a span whose operation was canceled by its caller (traceAsync's `cancelSignal`):
 * set without ERROR status, as ERROR_TYPE_CLIENT_ABORTED is, so error searches skip it.
 */
export const ERROR_TYPE_CANCELED = 'canceled';

/**
 * Head sampling ratio per environment (the plan's P0 sampling fix): everything in development,
 * a quarter in staging, 10 % in production. OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG override.
 */
export const SAMPLING_RATIO: Record<DeploymentEnvironment, number> = {
  development: 1,
  staging: 0.25,
  production: 0.1,
};

/**
 * Critical routes: always sampled whatever the ratio (uploads, auth failures on video access,
 * webhooks), so a failed upload or a 401/403 always has a trace to diagnose.
 */
export const ALWAYS_SAMPLED_ROUTES = ['/api/upload/stream', '/api/webhooks/crm'] as const;
/** Span events whose presence forces the trace to be kept when it is being recorded. */
export const ALWAYS_SAMPLED_HINT_ATTRIBUTE = 'sampling.priority';

/** Query parameters and header names whose values never reach telemetry. */
export const REDACTED_QUERY_PARAMS = [
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
  'Signature',
  'AWSAccessKeyId',
  'token',
  'access_token',
] as const;
export const REDACTED_HEADERS = ['authorization', 'cookie', 'set-cookie', 'x-amz-security-token', 'x-crm-signature'] as const;
export const REDACTED_VALUE = '[REDACTED]';

/** Telemetry health (the Telemetry health dashboard and the spans-dropped alert). */
export const SPANS_EXPORTED = 'otel_spans_exported_total';
export const SPANS_DROPPED = 'otel_spans_dropped_total';
export const SPAN_EXPORT_ERRORS = 'otel_span_export_errors_total';
export const SPANS_STARTED = 'otel_spans_started_total';
/** Bytes of encoded spans handed to the exporter (measured, for the storage projection). */
export const SPAN_EXPORT_BYTES = 'otel_span_export_bytes_total';
export const LOG_RECORDS = 'log_records_total';
/** Ratio of spans dropped above which the telemetry alert fires. */
export const SPANS_DROPPED_RATIO_THRESHOLD = 0.01;

/**
 * Span batch limits: bounded memory when the collector is down or slow. Spans wait encoded
 * (about 300 bytes each, encoding-span-processor.ts), so the queue holds 8192 of them in ~2.5 MB;
 * batches of 2048 halve the export thread's CPU per span against 512 (bench/span-floor.ts).
 * Much of an export's cost is per export, not per span: at OpenTelemetry's default delay of 5 s
 * instead of 1 s the export thread's CPU per proxied stream request at the production profile
 * halved (docs/benchmarks.md, session 19). OTEL_BSP_* override these (exporter.ts, batchLimits).
 */
export const SPAN_BATCH = {
  maxQueueSize: 8192,
  maxExportBatchSize: 2048,
  scheduledDelayMillis: 5000,
  exportTimeoutMillis: 5000,
} as const;

/** Log record batch limits (records wait as objects until their batch is sent). */
export const LOG_BATCH = {
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 1000,
  exportTimeoutMillis: 5000,
} as const;

/** Slow database query threshold for the slow-query log line, in milliseconds. */
export const SLOW_QUERY_THRESHOLD_MS = 100;
