// Service overview (home): RED per route. Rate, error ratio against the 5 % line, P50/P95/P99
// against each route class's objective with exemplars, and the burn rate of both SLOs.
import {
  AVAILABILITY_OBJECTIVE,
  ERROR_RATIO_THRESHOLD,
  HTTP_LABELS,
  LATENCY_OBJECTIVE_SECONDS,
  LATENCY_SLO_OBJECTIVE,
  ROUTE_CLASSES,
  SERVICE_LABELS,
  errorRatio,
  latencyQuantile,
  pct,
  recordedErrorRatio,
  recordedSlowRatio,
  requestRate,
  statusShare,
  type RouteClass,
} from './signals.ts';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  DASHBOARD_UIDS,
  RATE,
  baseDashboard,
  environmentVariable,
  linkTo,
  prom,
  row,
  serviceVariable,
  statPanel,
  svcSel,
  timeseriesPanel,
  type DashboardConfig,
} from './common.ts';

export const defaultServiceOverviewConfig: DashboardConfig = {
  uid: DASHBOARD_UIDS.overview,
  title: 'Video platform / Service overview',
  tags: ['video-platform', 'red', 'slo'],
  from: 'now-1h',
  refresh: '30s',
};

export const requestRateTimeseries = () =>
  timeseriesPanel(
    'Request rate by route',
    'Requests per second by route template and method (http_route is the template, never the raw path).',
    [prom(requestRate(RATE, svcSel(), [HTTP_LABELS.method, HTTP_LABELS.route]), '{{http_request_method}} {{http_route}}')],
    { unit: 'reqps', stack: true },
  ).span(12);

export const errorRatioTimeseries = () =>
  timeseriesPanel(
    'Error ratio (5xx) by route',
    `Share of requests answered with a 5xx, by route. The red line is the ${pct(ERROR_RATIO_THRESHOLD)} alert threshold (HighErrorRatio). Empty, not 0, without traffic.`,
    [prom(errorRatio(RATE, svcSel(), [HTTP_LABELS.route]), '{{http_route}}')],
    { unit: 'percentunit', min: 0, threshold: ERROR_RATIO_THRESHOLD },
  ).span(12);

export const statusCodesTimeseries = () =>
  timeseriesPanel(
    'Responses by status code',
    'Requests per second by HTTP status code: 2xx/3xx success, 206 partial content (ranges), 302 presigned redirects, 4xx client errors (401/403/404/413/416), 5xx server errors.',
    [prom(requestRate(RATE, svcSel(), [HTTP_LABELS.status]), '{{http_response_status_code}}')],
    { unit: 'reqps', stack: true },
  ).span(12);

export const clientErrorShareTimeseries = () =>
  timeseriesPanel(
    'Client error share (4xx) by route',
    'Share of requests answered with a 4xx: auth failures (401/403), missing videos (404), oversized uploads (413), bad ranges (416). Not counted against availability.',
    [prom(statusShare('4..', RATE, svcSel(), [HTTP_LABELS.route]), '{{http_route}}')],
    { unit: 'percentunit', min: 0 },
  ).span(12);

/** P50/P95/P99 of one route class against its objective, with exemplars (click a dot to open the trace). */
export const routeClassLatencyTimeseries = (cls: RouteClass) =>
  timeseriesPanel(
    `Latency: ${cls}`,
    `P50, P95 and P99 latency of route class "${cls}". The red line is its P95 objective, ${LATENCY_OBJECTIVE_SECONDS[cls]} s (LatencyP95OverObjective). Dots are exemplars: click one to open that request's trace in Tempo.`,
    [0.5, 0.95, 0.99].map((q, i) =>
      prom(latencyQuantile(q, RATE, svcSel({ [HTTP_LABELS.routeClass]: cls })), `p${q * 100}`, { exemplar: i === 1, refId: `P${q * 100}` }),
    ),
    { unit: 's', min: 0, threshold: LATENCY_OBJECTIVE_SECONDS[cls] },
  ).span(8);

export const availabilityStat = () =>
  statPanel(
    'Availability (non-5xx), 1h',
    `Share of requests not answered with a 5xx over the last hour (recorded series). The SLO is ${pct(AVAILABILITY_OBJECTIVE)}.`,
    [prom(`1 - (${recordedErrorRatio('1h', SERVICE_LABELS, svcSel())})`, '{{service_name}}', { instant: true })],
    { unit: 'percentunit', threshold: AVAILABILITY_OBJECTIVE },
  ).span(6);

export const latencySloStat = () =>
  statPanel(
    'Within latency objective, 1h',
    `Share of requests that finished within their route class objective over the last hour. The SLO is ${pct(LATENCY_SLO_OBJECTIVE)}.`,
    [prom(`1 - (${recordedSlowRatio('1h', SERVICE_LABELS, svcSel())})`, '{{service_name}}', { instant: true })],
    { unit: 'percentunit', threshold: LATENCY_SLO_OBJECTIVE },
  ).span(6);

export const availabilityBurnRateTimeseries = () =>
  timeseriesPanel(
    'Availability budget burn rate',
    `How many times faster than sustainable the availability error budget (${pct(1 - AVAILABILITY_OBJECTIVE)}) burns, over 5m and 1h. 1 spends the budget exactly in the SLO period; the page fires at 14.4 on both windows.`,
    ['5m', '1h'].map((w) => prom(`(${recordedErrorRatio(w, SERVICE_LABELS, svcSel())}) / ${Number((1 - AVAILABILITY_OBJECTIVE).toPrecision(6))}`, w, { refId: `W${w}` })),
    { unit: 'short', min: 0 },
  ).span(6);

export const latencyBurnRateTimeseries = () =>
  timeseriesPanel(
    'Latency budget burn rate',
    `How many times faster than sustainable the latency budget (${pct(1 - LATENCY_SLO_OBJECTIVE)} of requests may be slow) burns, over 5m and 1h.`,
    ['5m', '1h'].map((w) => prom(`(${recordedSlowRatio(w, SERVICE_LABELS, svcSel())}) / ${Number((1 - LATENCY_SLO_OBJECTIVE).toPrecision(6))}`, w, { refId: `W${w}` })),
    { unit: 'short', min: 0 },
  ).span(6);

export function serviceOverviewDashboard(cfg: DashboardConfig = defaultServiceOverviewConfig): dashboard.DashboardBuilder {
  const d = baseDashboard(cfg)
    .description('Home: is the video platform healthy? RED per route against the error and latency objectives.')
    .withVariable(environmentVariable())
    .withVariable(serviceVariable())
    .link(linkTo(DASHBOARD_UIDS.streaming, 'Video streaming'))
    .link(linkTo(DASHBOARD_UIDS.uploads, 'Uploads and jobs'))
    .link(linkTo(DASHBOARD_UIDS.dependencies, 'Dependencies'))
    .link(linkTo(DASHBOARD_UIDS.traces, 'Traces and logs'))
    .link(linkTo(DASHBOARD_UIDS.telemetry, 'Telemetry health'))
    .withRow(row('SLOs'))
    .withPanel(availabilityStat())
    .withPanel(latencySloStat())
    .withPanel(availabilityBurnRateTimeseries())
    .withPanel(latencyBurnRateTimeseries())
    .withRow(row('Rate and errors'))
    .withPanel(requestRateTimeseries())
    .withPanel(errorRatioTimeseries())
    .withPanel(statusCodesTimeseries())
    .withPanel(clientErrorShareTimeseries())
    .withRow(row('Latency by route class'));
  for (const cls of ROUTE_CLASSES) d.withPanel(routeClassLatencyTimeseries(cls));
  return d;
}
