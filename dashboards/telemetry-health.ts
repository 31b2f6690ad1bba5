// Telemetry health: is the telemetry itself trustworthy and affordable? Spans exported and
// dropped, export errors, effective sampling ratio, log volume, and the projected trace storage
// per day against the budget.
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  HTTP_SERVER_DURATION,
  LABEL_ENVIRONMENT,
  LABEL_SERVICE,
  LOKI_LABELS,
  SERVICES,
  SERVICE_LABELS,
  SPANS_DROPPED,
  SPANS_DROPPED_RATIO_THRESHOLD,
  SPANS_EXPORTED,
  SPANS_STARTED,
  SPAN_EXPORT_BYTES,
  SPAN_EXPORT_ERRORS,
  TEMPO_SPANMETRICS_CALLS,
  TEMPO_SPANMETRICS_LABELS,
  TEMPO_SPAN_KIND_SERVER,
  TRACE_STORAGE_BUDGET_BYTES_PER_DAY,
  counterRate,
  pct,
  safeRatio,
  spansHandled,
} from './signals.ts';
import {
  DASHBOARD_UIDS,
  ENV_VAR,
  RATE,
  baseDashboard,
  envSel,
  environmentVariable,
  linkTo,
  logqlTimeseries,
  prom,
  row,
  statPanel,
  timeseriesPanel,
  type DashboardConfig,
} from './common.ts';

export const defaultTelemetryHealthConfig: DashboardConfig = {
  uid: DASHBOARD_UIDS.telemetry,
  title: 'Video platform / Telemetry health',
  tags: ['video-platform', 'telemetry'],
  from: 'now-3h',
  refresh: '1m',
};

const SECONDS_PER_DAY = 86_400;
/** Window the storage projection averages over: long enough to smooth bursts. */
export const STORAGE_PROJECTION_WINDOW = '1h';

export const spansTimeseries = () =>
  timeseriesPanel(
    'Spans started, exported, dropped',
    'Sampled spans started, spans handed to the collector, and spans dropped (batch queue full or export failed), per second and service.',
    [
      prom(counterRate(SPANS_STARTED, RATE, envSel(), SERVICE_LABELS), 'started {{service_name}}', { refId: 'S' }),
      prom(counterRate(SPANS_EXPORTED, RATE, envSel(), SERVICE_LABELS), 'exported {{service_name}}', { refId: 'E' }),
      prom(counterRate(SPANS_DROPPED, RATE, envSel(), SERVICE_LABELS), 'dropped {{service_name}}', { refId: 'D' }),
    ],
    { unit: 'ops', min: 0 },
  ).span(12);

export const droppedRatioTimeseries = () => {
  const dropped = counterRate(SPANS_DROPPED, RATE, envSel(), SERVICE_LABELS);
  const handled = spansHandled(RATE, envSel(), SERVICE_LABELS);
  return timeseriesPanel(
    'Dropped span ratio',
    `Share of ended spans dropped instead of exported; the red line is the ${pct(SPANS_DROPPED_RATIO_THRESHOLD)} SpansDropped threshold.`,
    [prom(safeRatio(dropped, handled), '{{service_name}}')],
    { unit: 'percentunit', min: 0, threshold: SPANS_DROPPED_RATIO_THRESHOLD },
  ).span(12);
};

export const exportErrorsTimeseries = () =>
  timeseriesPanel(
    'Span export errors',
    'Failed export calls per second (collector down, slow or refusing). Each failed call drops its batch.',
    [prom(counterRate(SPAN_EXPORT_ERRORS, RATE, envSel(), SERVICE_LABELS), '{{service_name}}')],
    { unit: 'ops', min: 0 },
  ).span(12);

export const effectiveSamplingTimeseries = () =>
  timeseriesPanel(
    'Effective sampling ratio',
    'Sampled server spans that reached Tempo (its metrics-generator span-metrics, all environments) divided by the requests the service counted (metrics are never sampled). Compare with the configured per-environment ratio; critical routes are always sampled, so it sits above it.',
    [
      prom(
        `sum by (${TEMPO_SPANMETRICS_LABELS.service}) (rate(${TEMPO_SPANMETRICS_CALLS}{${TEMPO_SPANMETRICS_LABELS.spanKind}="${TEMPO_SPAN_KIND_SERVER}"}[${RATE}]))\n/ on (${TEMPO_SPANMETRICS_LABELS.service})\n(label_replace(sum by (${LABEL_SERVICE}) (rate(${HTTP_SERVER_DURATION}_count{${LABEL_ENVIRONMENT}="$${ENV_VAR}"}[${RATE}])), "${TEMPO_SPANMETRICS_LABELS.service}", "$1", "${LABEL_SERVICE}", "(.*)") > 0)`,
        '{{service}}',
      ),
    ],
    { unit: 'percentunit', min: 0, max: 1 },
  ).span(12);

export const spansPerRequestTimeseries = () =>
  timeseriesPanel(
    'Sampled spans per request',
    'Sampled spans started per HTTP request, from the service\'s own counters: falls with the sampling ratio, rises when a request fans out into more S3/Redis/database calls.',
    [prom(`${counterRate(SPANS_STARTED, RATE, envSel(), SERVICE_LABELS)}\n/ (${counterRate(`${HTTP_SERVER_DURATION}_count`, RATE, envSel(), SERVICE_LABELS)} > 0)`, '{{service_name}}')],
    { unit: 'short', min: 0 },
  ).span(12);

export const exportBytesTimeseries = () =>
  timeseriesPanel(
    'Span export volume',
    'Bytes per second of encoded OTLP spans handed to the collector: the input of the storage projection.',
    [prom(counterRate(SPAN_EXPORT_BYTES, RATE, envSel(), SERVICE_LABELS), '{{service_name}}')],
    { unit: 'Bps', min: 0 },
  ).span(12);

export const projectedTraceStorageStat = () =>
  statPanel(
    'Projected trace storage per day',
    `Measured span bytes per second over the last ${STORAGE_PROJECTION_WINDOW}, times a day, all services. Red above the budget of ${TRACE_STORAGE_BUDGET_BYTES_PER_DAY / 1e9} GB/day (TRACE_STORAGE_BUDGET_BYTES_PER_DAY): lower the sampling ratio.`,
    [prom(`sum (rate(${SPAN_EXPORT_BYTES}{${LABEL_ENVIRONMENT}="$${ENV_VAR}"}[${STORAGE_PROJECTION_WINDOW}])) * ${SECONDS_PER_DAY}`, 'bytes/day', { instant: true })],
    { unit: 'decbytes', threshold: TRACE_STORAGE_BUDGET_BYTES_PER_DAY },
  ).span(12);

export const logVolumeTimeseries = () =>
  logqlTimeseries(
    'Log volume',
    'Log lines per interval reaching Loki, by service.',
    `sum by (${LOKI_LABELS.service}) (count_over_time({${LOKI_LABELS.service}=~"${SERVICES.join('|')}"} | ${LOKI_LABELS.environment}="$${ENV_VAR}" [$__auto]))`,
    '{{service_name}}',
  ).span(24);

export function telemetryHealthDashboard(cfg: DashboardConfig = defaultTelemetryHealthConfig): dashboard.DashboardBuilder {
  return baseDashboard(cfg)
    .description('Can we trust and afford our telemetry? Export health, sampling, log volume and projected trace storage.')
    .withVariable(environmentVariable())
    .link(linkTo(DASHBOARD_UIDS.overview, 'Service overview'))
    .withRow(row('Spans'))
    .withPanel(projectedTraceStorageStat())
    .withPanel(exportBytesTimeseries())
    .withPanel(spansTimeseries())
    .withPanel(droppedRatioTimeseries())
    .withPanel(exportErrorsTimeseries())
    .withPanel(effectiveSamplingTimeseries())
    .withPanel(spansPerRequestTimeseries())
    .withRow(row('Logs'))
    .withPanel(logVolumeTimeseries());
}
