// HTTP server instrumentation values (src/telemetry/http-server.ts) that dashboards, alerts and
// tests may need too: exemplar labels, the status of aborted requests, the default route class.
import { SERVER_TIMING_HEADER, TRACE_RESPONSE_HEADER } from './http.ts';
import type { RouteClass } from './routes.ts';

/** Exemplar labels on latency histograms (Grafana links exemplars to Tempo by `trace_id`). */
export const EXEMPLAR_LABELS = { traceId: 'trace_id', spanId: 'span_id' } as const;

/**
 * `http_response_status_code` label of requests whose client went away before the response
 * finished (nginx's "client closed request"). Not a 5xx: it does not count against availability.
 */
export const CLIENT_CLOSED_STATUS = 499;

/** Route class of a matched route that declares no `config: { routeClass }`. */
export const DEFAULT_ROUTE_CLASS: RouteClass = 'api';

/** Response headers a browser must be allowed to read (CORS `exposedHeaders`), plan 1.8. */
export const TRACE_EXPOSED_HEADERS = [TRACE_RESPONSE_HEADER, SERVER_TIMING_HEADER] as const;
