// Traces and logs: the "trace viewer filter" quick win done in Grafana. TraceQL search by span
// event type (video.range_request, video.s3_redirect, ...) within the time picker's range, error
// traces, and each service's logs, whose trace_id opens the trace (Loki derived field -> Tempo).
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  CRM_EVENTS,
  EVENT_FAULT_INJECTED,
  LOKI_LABELS,
  SERVICES,
  VIDEO_EVENTS,
} from './signals.ts';
import {
  DASHBOARD_UIDS,
  ENV_VAR,
  SERVICE_VAR,
  baseDashboard,
  customVariable,
  environmentVariable,
  linkTo,
  logqlPanel,
  logqlTimeseries,
  row,
  traceqlPanel,
  type DashboardConfig,
} from './common.ts';

export const defaultTracesLogsConfig: DashboardConfig = {
  uid: DASHBOARD_UIDS.traces,
  title: 'Video platform / Traces and logs',
  tags: ['video-platform', 'traces', 'logs'],
  from: 'now-30m',
  refresh: '1m',
};

/** Every span event type the services record: the event filter's values. */
export const SPAN_EVENT_TYPES: readonly string[] = [...VIDEO_EVENTS, ...Object.values(CRM_EVENTS), EVENT_FAULT_INJECTED];
export const SPAN_EVENT_VAR = 'span_event';

const svc = `resource.service.name = "$${SERVICE_VAR}"`;
// Stream selector on the always-indexed service label; the environment as a label filter (structured metadata or label).
const logStream = `{${LOKI_LABELS.service}="$${SERVICE_VAR}"} | ${LOKI_LABELS.environment}="$${ENV_VAR}"`;

export const TRACEQL = {
  byEvent: `{ ${svc} && event:name = "$${SPAN_EVENT_VAR}" }`,
  errors: `{ ${svc} && status = error }`,
  slow: `{ ${svc} && kind = server && duration > 1s }`,
} as const;

export const LOGQL = {
  all: `${logStream} | ${LOKI_LABELS.traceId} != ""`,
  volume: `sum by (${LOKI_LABELS.service}) (count_over_time(${logStream} [$__auto]))`,
} as const;

export const tracesByEventTable = () =>
  traceqlPanel(
    'Traces with span event $span_event',
    'Traces of the selected service that contain a span event of the selected type (e.g. video.range_request, video.s3_redirect, upload.rejected), in the time picker range. Click a trace id to open it.',
    TRACEQL.byEvent,
  )
    .span(24)
    .height(10);

export const errorTracesTable = () =>
  traceqlPanel(
    'Error traces',
    'Traces of the selected service with at least one span in error status (5xx, failed S3/CRM calls, failed jobs).',
    TRACEQL.errors,
  ).span(12);

export const slowTracesTable = () =>
  traceqlPanel('Slow requests (> 1 s)', 'Server spans of the selected service that took longer than one second.', TRACEQL.slow).span(12);

export const logVolumeTimeseries = () =>
  logqlTimeseries('Log lines', 'Log lines per interval of the selected service (Loki).', LOGQL.volume, '{{service_name}}').span(24).height(6);

export const serviceLogsPanel = () =>
  logqlPanel(
    'Logs with trace context',
    'Log lines of the selected service that carry a trace_id; expand a line and click "View trace" (the Loki datasource links trace_id to Tempo).',
    LOGQL.all,
  )
    .span(24)
    .height(14);

export function tracesLogsDashboard(cfg: DashboardConfig = defaultTracesLogsConfig): dashboard.DashboardBuilder {
  return baseDashboard(cfg)
    .description('What happened to this request? Search traces by span event type, errors and slowness; read the logs and jump to their traces.')
    .withVariable(environmentVariable())
    .withVariable(customVariable(SERVICE_VAR, 'Service', 'service.name of the traces and logs.', SERVICES))
    .withVariable(customVariable(SPAN_EVENT_VAR, 'Span event', 'Span event type to search traces for.', SPAN_EVENT_TYPES))
    .link(linkTo(DASHBOARD_UIDS.overview, 'Service overview'))
    .withRow(row('Traces'))
    .withPanel(tracesByEventTable())
    .withPanel(errorTracesTable())
    .withPanel(slowTracesTable())
    .withRow(row('Logs'))
    .withPanel(logVolumeTimeseries())
    .withPanel(serviceLogsPanel());
}
