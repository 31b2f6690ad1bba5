// Load test: k6 results written by `k6 run --out experimental-prometheus-rw` into Prometheus,
// per test run (testid) and scenario, next to what the service itself measured.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  ERROR_RATIO_THRESHOLD,
  K6_METRICS,
  K6_SCENARIO_LABEL,
  K6_TESTID_LABEL,
  SERVICE_API,
  latencyQuantile,
  pct,
  requestRate,
  forService,
} from './signals.ts';
import {
  DASHBOARD_UIDS,
  PROMETHEUS,
  RATE,
  baseDashboard,
  envSel,
  environmentVariable,
  linkTo,
  prom,
  row,
  timeseriesPanel,
  type DashboardConfig,
} from './common.ts';

export const defaultLoadTestConfig: DashboardConfig = {
  uid: DASHBOARD_UIDS.load,
  title: 'Video platform / Load test',
  tags: ['video-platform', 'k6', 'load'],
  from: 'now-30m',
  refresh: '10s',
};

const TESTID_VAR = K6_TESTID_LABEL;
const run = `{${K6_TESTID_LABEL}=~"$${TESTID_VAR}"}`;

export const testIdVariable = () =>
  new dashboard.QueryVariableBuilder(TESTID_VAR)
    .label('Test run')
    .description('k6 test id (`k6 run --tag testid=...`).')
    .datasource(PROMETHEUS)
    .query(`label_values(${K6_METRICS.httpReqs}, ${K6_TESTID_LABEL})`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .multi(true)
    .includeAll(true);

export const k6RequestRateTimeseries = () =>
  timeseriesPanel(
    'k6 request rate by scenario',
    'Requests per second k6 sent, by scenario (load-tests/scenarios.ts).',
    [prom(`sum by (${K6_SCENARIO_LABEL}) (rate(${K6_METRICS.httpReqs}${run}[${RATE}]))`, '{{scenario}}')],
    { unit: 'reqps', stack: true },
  ).span(12);

export const k6VusTimeseries = () =>
  timeseriesPanel('k6 virtual users', 'Active virtual users.', [prom(`sum (${K6_METRICS.vus}${run})`, 'VUs')], { unit: 'short', min: 0 }).span(12);

export const k6LatencyTimeseries = () =>
  timeseriesPanel(
    'k6 request duration (client side)',
    'P50/P95/P99 request duration seen by k6 (trend stats K6_TREND_STATS), by scenario; compare with the server-side P95 below to see network and client overhead.',
    [
      prom(`max by (${K6_SCENARIO_LABEL}) (${K6_METRICS.httpReqDurationP95}${run})`, 'p95 {{scenario}}', { refId: 'P95' }),
      prom(`max by (${K6_SCENARIO_LABEL}) (${K6_METRICS.httpReqDurationP99}${run})`, 'p99 {{scenario}}', { refId: 'P99' }),
    ],
    { unit: 's', min: 0 },
  ).span(12);

export const k6FailedTimeseries = () =>
  timeseriesPanel(
    'k6 failed requests and checks',
    `Share of requests k6 counted as failed (unexpected status) and share of checks passed. The red line is the ${pct(ERROR_RATIO_THRESHOLD)} error threshold the k6 thresholds share with the alerts.`,
    [
      prom(`avg by (${K6_SCENARIO_LABEL}) (${K6_METRICS.httpReqFailed}${run})`, 'failed {{scenario}}', { refId: 'F' }),
      prom(`avg (${K6_METRICS.checks}${run})`, 'checks passed', { refId: 'C' }),
    ],
    { unit: 'percentunit', min: 0, max: 1, threshold: ERROR_RATIO_THRESHOLD },
  ).span(12);

export const serverSideRateTimeseries = () =>
  timeseriesPanel(
    'Server-side request rate and P95',
    'What video-api itself measured during the run (its http_server_request_duration_seconds), with exemplars.',
    [
      prom(requestRate(RATE, envSel(forService(SERVICE_API))), 'req/s', { refId: 'R' }),
      prom(latencyQuantile(0.95, RATE, envSel(forService(SERVICE_API))), 'p95 (s)', { refId: 'L', exemplar: true }),
    ],
    { unit: 'short', min: 0 },
  ).span(12);

export const k6DataTimeseries = () =>
  timeseriesPanel(
    'k6 data received and sent',
    'Bytes per second k6 received (video bytes, mostly) and sent (uploads).',
    [
      prom(`sum (rate(${K6_METRICS.dataReceived}${run}[${RATE}]))`, 'received', { refId: 'R' }),
      prom(`sum (rate(${K6_METRICS.dataSent}${run}[${RATE}]))`, 'sent', { refId: 'S' }),
    ],
    { unit: 'Bps', min: 0 },
  ).span(12);

export function loadTestDashboard(cfg: DashboardConfig = defaultLoadTestConfig): dashboard.DashboardBuilder {
  return baseDashboard(cfg)
    .description('How did the service hold up under the k6 run? Client-side k6 results next to the server-side measurements.')
    .withVariable(environmentVariable())
    .withVariable(testIdVariable())
    .link(linkTo(DASHBOARD_UIDS.overview, 'Service overview'))
    .withRow(row('k6'))
    .withPanel(k6RequestRateTimeseries())
    .withPanel(k6VusTimeseries())
    .withPanel(k6LatencyTimeseries())
    .withPanel(k6FailedTimeseries())
    .withPanel(k6DataTimeseries())
    .withRow(row('Service'))
    .withPanel(serverSideRateTimeseries());
}
