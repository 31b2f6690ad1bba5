// The docker compose stack: hostnames, ports, retention and the trace storage budget inputs.
// docker-compose.yml and the configs under prometheus/, tempo/, loki/, otel-collector/ are YAML
// and cannot import this file; test/compose-*.test.ts checks that they say the same thing.
import { DEFAULT_PORTS, SERVICE_API, SERVICE_WORKER } from './services.ts';

/** Compose service names (= hostnames on the compose network) and the ports they listen on. */
export const STACK = {
  grafana: { host: 'grafana', port: 3000 },
  prometheus: { host: 'prometheus', port: 9090 },
  alertmanager: { host: 'alertmanager', port: 9093 },
  /** Tempo's HTTP API (Grafana, /metrics) and its OTLP receivers (fed by the collector only). */
  tempo: { host: 'tempo', port: 3200, otlpGrpcPort: 4317, otlpHttpPort: 4318 },
  loki: { host: 'loki', port: 3100 },
  /** The services' OTLP entry point; 8888 serves the collector's own metrics. */
  otelCollector: { host: 'otel-collector', otlpGrpcPort: 4317, otlpHttpPort: 4318, metricsPort: 8888 },
  minio: { host: 'minio', port: 9000, consolePort: 9001 },
  mailpit: { host: 'mailpit', port: 8025, smtpPort: 1025 },
  redis: { host: 'redis', port: 6379 },
  postgres: { host: 'postgres', port: 5432 },
  crmEmulator: { host: 'crm-emulator', port: DEFAULT_PORTS.crmEmulator },
  api: { host: SERVICE_API, port: DEFAULT_PORTS.api, metricsPort: DEFAULT_PORTS.apiMetrics },
  worker: { host: SERVICE_WORKER, metricsPort: DEFAULT_PORTS.workerMetrics },
} as const;

/** OTEL_EXPORTER_OTLP_ENDPOINT of every instrumented process in compose (OTLP/HTTP protobuf). */
export const STACK_OTLP_ENDPOINT = `http://${STACK.otelCollector.host}:${STACK.otelCollector.otlpHttpPort}`;

/**
 * Ports published to the host, always on 127.0.0.1 (never on all interfaces): what a user opens
 * in a browser, the API, MinIO for presigned URLs, and the collector for a service run on the host.
 */
export const STACK_PUBLISHED_PORTS: Record<string, readonly number[]> = {
  grafana: [STACK.grafana.port],
  prometheus: [STACK.prometheus.port],
  alertmanager: [STACK.alertmanager.port],
  mailpit: [STACK.mailpit.port],
  'otel-collector': [STACK.otelCollector.otlpGrpcPort, STACK.otelCollector.otlpHttpPort],
  minio: [STACK.minio.port, STACK.minio.consolePort],
  [SERVICE_API]: [STACK.api.port],
};

/**
 * Where compose mounts dashboards/generated in Grafana. The home dashboard is the service
 * overview, `<DASHBOARD_UIDS.overview>.json` in it (dashboards/uids.ts owns the UID).
 */
export const STACK_GRAFANA_DASHBOARDS_DIR = '/var/lib/grafana/dashboards';

/** Prometheus scrape interval: rate windows (>= 1m) then hold at least 4 samples. */
export const STACK_SCRAPE_INTERVAL = '15s';

/**
 * Trace retention in Tempo (compactor block_retention): a week, so an incident noticed on
 * Monday that began on Saturday still has its traces.
 */
export const TRACE_RETENTION_HOURS = 168;
/** Log retention in Loki: the same as traces, so a trace's log lines live as long as it does. */
export const LOG_RETENTION_HOURS = TRACE_RETENTION_HOURS;

/**
 * The request rate the trace storage budget is stated at (docs/stack.md): a sustained 30 req/s
 * around the clock (2.6 million requests a day), head-sampled at SAMPLING_RATIO.production.
 * test/compose-storage-budget.test.ts measures the span bytes and fails if this rate no longer
 * fits the budget (measured on 2026-11-25: the budget is reached at about 39 req/s).
 */
export const STORAGE_BUDGET_REQUESTS_PER_SECOND = 30;
/**
 * The traffic mix of that budget: players mostly fetch byte ranges (proxied stream) or presigned
 * redirects; uploads are rare but always sampled (ALWAYS_SAMPLED_ROUTES) and have a span per part.
 */
export const STORAGE_BUDGET_MIX = { stream: 0.6, redirect: 0.39, upload: 0.01 } as const;
/** Upload size the budget assumes: the upload latency objective's "typical" file (slo.ts). */
export const STORAGE_BUDGET_UPLOAD_BYTES = 100 * 1024 * 1024;
