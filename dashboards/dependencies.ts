// Dependencies: S3, the CRM (incl. retries and token refreshes), the database (query duration,
// slow queries) and Redis (from its client spans in Tempo: Redis exports no metrics of ours).
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  CRM_DURATION,
  CRM_ERROR_RATIO_THRESHOLD,
  CRM_LABELS,
  CRM_RETRIES,
  CRM_TOKEN_REFRESHES,
  CRM_WEBHOOKS,
  DB_LABELS,
  DB_QUERY_DURATION,
  LOKI_LABELS,
  SERVICES,
  LATENCY_QUANTILE,
  S3_ERROR_RATIO_THRESHOLD,
  S3_LABELS,
  SLOW_QUERY_LOG_MSG,
  SLOW_QUERY_THRESHOLD_MS,
  TRACE_ATTRS,
  counterRate,
  histogramQuantile,
  pct,
  s3ErrorRatio,
  s3LatencyQuantile,
  safeRatio,

} from './signals.ts';
import {
  DASHBOARD_UIDS,
  ENV_VAR,
  RATE,
  baseDashboard,
  envSel,
  environmentVariable,
  linkTo,
  logqlPanel,
  prom,
  row,
  timeseriesPanel,
  traceqlPanel,
  type DashboardConfig,
} from './common.ts';

export const defaultDependenciesConfig: DashboardConfig = {
  uid: DASHBOARD_UIDS.dependencies,
  title: 'Video platform / Dependencies',
  tags: ['video-platform', 'dependencies'],
  from: 'now-1h',
  refresh: '30s',
};

export const s3LatencyTimeseries = () =>
  timeseriesPanel(
    'S3 latency by operation (P95)',
    'P95 latency of every S3 operation (src/lib/s3.ts), with exemplars.',
    [prom(s3LatencyQuantile(LATENCY_QUANTILE, RATE, envSel()), '{{s3_operation}}', { exemplar: true })],
    { unit: 's', min: 0 },
  ).span(12);

export const s3ErrorRatioTimeseries = () =>
  timeseriesPanel(
    'S3 error ratio by operation',
    `Share of failing S3 calls by operation; the red line is the ${pct(S3_ERROR_RATIO_THRESHOLD)} S3HighErrorRatio threshold.`,
    [prom(s3ErrorRatio(RATE, envSel(), [S3_LABELS.operation]), '{{s3_operation}}')],
    { unit: 'percentunit', min: 0, threshold: S3_ERROR_RATIO_THRESHOLD },
  ).span(12);

export const crmLatencyTimeseries = () =>
  timeseriesPanel(
    'CRM call latency (P95)',
    'P95 duration of CRM calls by operation, retries included (one observation per logical call).',
    [prom(histogramQuantile(LATENCY_QUANTILE, CRM_DURATION, RATE, envSel(), [CRM_LABELS.operation]), '{{crm_operation}}', { exemplar: true })],
    { unit: 's', min: 0 },
  ).span(8);

export const crmFailureRatioTimeseries = () => {
  const g = [CRM_LABELS.operation];
  return timeseriesPanel(
    'CRM failure ratio',
    `Share of CRM calls that failed after all retries; the red line is the ${pct(CRM_ERROR_RATIO_THRESHOLD)} CrmHighFailureRatio threshold.`,
    [
      prom(
        safeRatio(
          counterRate(`${CRM_DURATION}_count`, RATE, envSel({ [CRM_LABELS.outcome]: 'error' }), g),
          counterRate(`${CRM_DURATION}_count`, RATE, envSel(), g),
        ),
        '{{crm_operation}}',
      ),
    ],
    { unit: 'percentunit', min: 0, threshold: CRM_ERROR_RATIO_THRESHOLD },
  ).span(8);
};

export const crmRetriesTimeseries = () =>
  timeseriesPanel(
    'CRM retries and token refreshes',
    'CRM retries per second by operation and reason (status code, timeout, network), and OAuth token refreshes by outcome (a healthy client refreshes once per token lifetime).',
    [
      prom(counterRate(CRM_RETRIES, RATE, envSel(), [CRM_LABELS.operation, CRM_LABELS.reason]), 'retry {{crm_operation}} {{reason}}', { refId: 'R' }),
      prom(counterRate(CRM_TOKEN_REFRESHES, RATE, envSel(), [CRM_LABELS.outcome]), 'token refresh {{outcome}}', { refId: 'T' }),
    ],
    { unit: 'ops', min: 0 },
  ).span(8);

export const crmWebhooksTimeseries = () =>
  timeseriesPanel(
    'CRM webhooks received',
    'Webhooks per second by type and result: accepted, bad_signature (HMAC mismatch), malformed, error.',
    [prom(counterRate(CRM_WEBHOOKS, RATE, envSel(), [CRM_LABELS.webhookType, CRM_LABELS.result]), '{{webhook_type}} {{result}}')],
    { unit: 'ops', stack: true },
  ).span(12);

export const dbQueryDurationTimeseries = () =>
  timeseriesPanel(
    'Database query duration (P95)',
    `P95 duration of Prisma operations by model and operation; the red line is the ${SLOW_QUERY_THRESHOLD_MS} ms slow-query threshold.`,
    [prom(histogramQuantile(LATENCY_QUANTILE, DB_QUERY_DURATION, RATE, envSel(), [DB_LABELS.model, DB_LABELS.operation]), '{{db_model}}.{{db_operation}}', { exemplar: true })],
    { unit: 's', min: 0, threshold: SLOW_QUERY_THRESHOLD_MS / 1000 },
  ).span(12);

export const dbSlowQueryRatioTimeseries = () => {
  const g = [DB_LABELS.model, DB_LABELS.operation];
  const all = counterRate(`${DB_QUERY_DURATION}_count`, RATE, envSel(), g);
  const fast = counterRate(`${DB_QUERY_DURATION}_bucket`, RATE, envSel({ le: String(SLOW_QUERY_THRESHOLD_MS / 1000) }), g);
  return timeseriesPanel(
    'Slow query share',
    `Share of database operations slower than ${SLOW_QUERY_THRESHOLD_MS} ms (the slow-query log threshold), by model and operation.`,
    [prom(`1 - (${fast} / (${all} > 0))`, '{{db_model}}.{{db_operation}}')],
    { unit: 'percentunit', min: 0 },
  ).span(12);
};

export const slowQueryLogsPanel = () =>
  logqlPanel(
    'Slow query log lines',
    `Log lines "${SLOW_QUERY_LOG_MSG}" (operations over ${SLOW_QUERY_THRESHOLD_MS} ms) with their trace ids.`,
    `{${LOKI_LABELS.service}=~"${SERVICES.join('|')}"} | ${LOKI_LABELS.environment}="$${ENV_VAR}" |= "${SLOW_QUERY_LOG_MSG}"`,
  ).span(24);

export const redisSpansTable = () =>
  traceqlPanel(
    'Redis commands (client spans)',
    'Traces with Redis client spans (BullMQ enqueue, realtime pub/sub) slower than 50 ms: Redis exports no metrics of ours, its spans do.',
    `{ span.${TRACE_ATTRS.dbSystem} = "redis" && duration > 50ms }`,
  ).span(24);

export const dbErrorsTimeseries = () =>
  timeseriesPanel(
    'Database operations by outcome',
    'Prisma operations per second by outcome (success, error).',
    [prom(counterRate(`${DB_QUERY_DURATION}_count`, RATE, envSel(), [DB_LABELS.outcome]), '{{outcome}}')],
    { unit: 'ops', stack: true },
  ).span(12);

export function dependenciesDashboard(cfg: DashboardConfig = defaultDependenciesConfig): dashboard.DashboardBuilder {
  return baseDashboard(cfg)
    .description('Is a dependency the problem? S3, the CRM, PostgreSQL and Redis as the service sees them.')
    .withVariable(environmentVariable())
    .link(linkTo(DASHBOARD_UIDS.overview, 'Service overview'))
    .link(linkTo(DASHBOARD_UIDS.traces, 'Traces and logs'))
    .withRow(row('S3'))
    .withPanel(s3LatencyTimeseries())
    .withPanel(s3ErrorRatioTimeseries())
    .withRow(row('CRM'))
    .withPanel(crmLatencyTimeseries())
    .withPanel(crmFailureRatioTimeseries())
    .withPanel(crmRetriesTimeseries())
    .withPanel(crmWebhooksTimeseries())
    .withRow(row('Database'))
    .withPanel(dbQueryDurationTimeseries())
    .withPanel(dbSlowQueryRatioTimeseries())
    .withPanel(dbErrorsTimeseries())
    .withPanel(slowQueryLogsPanel())
    .withRow(row('Redis'))
    .withPanel(redisSpansTable());
}

