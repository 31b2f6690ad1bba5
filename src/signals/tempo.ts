// Series that Tempo's metrics-generator remote-writes to Prometheus (compose enables the
// span-metrics and service-graphs processors). Grafana's Tempo service map and the Telemetry
// health dashboard's effective sampling ratio read them. Names as Tempo 2.x writes them.

/** Sampled spans seen by Tempo, by service, span_name, span_kind, status_code. */
export const TEMPO_SPANMETRICS_CALLS = 'traces_spanmetrics_calls_total';
/** Latency histogram of sampled spans (base name, `_bucket` etc. appended). */
export const TEMPO_SPANMETRICS_LATENCY = 'traces_spanmetrics_latency';
/** Service graph edges (client -> server). */
export const TEMPO_SERVICE_GRAPH_REQUESTS = 'traces_service_graph_request_total';
export const TEMPO_SPANMETRICS_LABELS = { service: 'service', spanKind: 'span_kind' } as const;
export const TEMPO_SPAN_KIND_SERVER = 'SPAN_KIND_SERVER';

/** Span attributes TraceQL searches use (OpenTelemetry semantic conventions as our instrumentations emit them). */
export const TRACE_ATTRS = {
  /** ioredis/pg instrumentations emit the current `db.system.name` (not the older `db.system`). */
  dbSystem: 'db.system.name',
} as const;
