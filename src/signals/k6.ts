// k6 results names (owner: DASHBOARDS engineer; the Load test dashboard reads them).
// k6 load-test results as k6's Prometheus remote-write output names them
// (`--out experimental-prometheus-rw`): every series is prefixed `k6_`, counters end in `_total`,
// rates in `_rate`, and trends become one gauge per stat listed in K6_PROMETHEUS_RW_TREND_STATS
// (`p(95)` -> `_p95`), in seconds. The Load test dashboard reads these.

/** K6_PROMETHEUS_RW_TREND_STATS value that produces the trend series below. */
export const K6_TREND_STATS = 'p(50),p(95),p(99),avg,max';
/** Tag k6 adds to every series when the run sets `--tag testid=...` (the dashboard's run selector). */
export const K6_TESTID_LABEL = 'testid';
/** Scenario tag (load-tests/scenarios.ts names them). */
export const K6_SCENARIO_LABEL = 'scenario';

export const K6_METRICS = {
  httpReqs: 'k6_http_reqs_total',
  httpReqFailed: 'k6_http_req_failed_rate',
  httpReqDurationP50: 'k6_http_req_duration_p50',
  httpReqDurationP95: 'k6_http_req_duration_p95',
  httpReqDurationP99: 'k6_http_req_duration_p99',
  vus: 'k6_vus',
  iterations: 'k6_iterations_total',
  checks: 'k6_checks_rate',
  dataReceived: 'k6_data_received_total',
  dataSent: 'k6_data_sent_total',
} as const;
