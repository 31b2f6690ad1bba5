// HTTP server metric, named as the OpenTelemetry semantic conventions are exported to
// Prometheus (http.server.request.duration in seconds -> http_server_request_duration_seconds).

export const HTTP_SERVER_DURATION = 'http_server_request_duration_seconds';
export const HTTP_SERVER_DURATION_HELP = 'Duration of HTTP server requests (OTel http.server.request.duration).';

/** Label keys (OTel attribute names with dots turned into underscores). */
export const HTTP_LABELS = {
  method: 'http_request_method',
  route: 'http_route',
  status: 'http_response_status_code',
  routeClass: 'route_class',
} as const;

/**
 * Latency buckets in seconds. Dense where the objectives are (slo.ts), each objective being a
 * boundary; up to 60 s for large uploads.
 */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** A response with one of these status codes counts against availability (server errors). */
export const ERROR_STATUS_REGEX = '5..';

/** Response headers that return the trace context to the client (plan 1.8). */
export const TRACE_RESPONSE_HEADER = 'traceresponse';
export const SERVER_TIMING_HEADER = 'server-timing';
/** Lets cross-origin pages read Server-Timing (our traceparent) of media and image requests. */
export const TIMING_ALLOW_ORIGIN_HEADER = 'timing-allow-origin';
