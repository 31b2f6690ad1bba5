// Building blocks every dashboard uses: datasources, the environment and service variables,
// panel constructors with descriptions, and links between dashboards. Dashboards only arrange.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as loki from '@grafana/grafana-foundation-sdk/loki';
import * as logs from '@grafana/grafana-foundation-sdk/logs';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as tempo from '@grafana/grafana-foundation-sdk/tempo';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { HTTP_SERVER_DURATION, LABEL_ENVIRONMENT, LABEL_SERVICE, type Selector } from '../src/signals/index.ts';
import { DASHBOARD_UIDS, DATASOURCE_UIDS } from './uids.ts';

export const PROMETHEUS = { type: 'prometheus', uid: DATASOURCE_UIDS.prometheus };
export const TEMPO = { type: 'tempo', uid: DATASOURCE_UIDS.tempo };
export const LOKI = { type: 'loki', uid: DATASOURCE_UIDS.loki };

/** Grafana's rate window: at least four scrape intervals (the live test substitutes a real window). */
export const RATE = '$__rate_interval';
export const ENV_VAR = LABEL_ENVIRONMENT;
export const SERVICE_VAR = LABEL_SERVICE;
/** Selector of the dashboard's environment (and, unless `service` is given, its service variable). */
export const envSel = (extra: Selector = {}): Selector => ({ [LABEL_ENVIRONMENT]: `$${ENV_VAR}`, ...extra });
export const svcSel = (extra: Selector = {}): Selector => envSel({ [LABEL_SERVICE]: `$${SERVICE_VAR}`, ...extra });

/** Options every dashboard factory takes; presets are `default*` in each dashboard file. */
export interface DashboardConfig {
  uid: string;
  title: string;
  tags: string[];
  /** Default time range. */
  from: string;
  refresh: string;
}

export function environmentVariable(): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(ENV_VAR)
    .label('Environment')
    .description('deployment.environment of the service (development, staging, production).')
    .datasource(PROMETHEUS)
    .query(`label_values(${HTTP_SERVER_DURATION}_count, ${LABEL_ENVIRONMENT})`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc);
}

export function serviceVariable(metric = `${HTTP_SERVER_DURATION}_count`): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(SERVICE_VAR)
    .label('Service')
    .description('service.name (video-api, video-worker).')
    .datasource(PROMETHEUS)
    .query(`label_values(${metric}{${LABEL_ENVIRONMENT}="$${ENV_VAR}"}, ${LABEL_SERVICE})`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc);
}

/** A custom (fixed list) variable, e.g. span event types. */
export function customVariable(name: string, label: string, description: string, values: readonly string[]): dashboard.CustomVariableBuilder {
  return new dashboard.CustomVariableBuilder(name)
    .label(label)
    .description(description)
    .values(values.join(','))
    .current({ text: values[0] ?? '', value: values[0] ?? '' });
}

/** A dashboard with the shared look: tags, time range, refresh, links to every other dashboard. */
export function baseDashboard(cfg: DashboardConfig): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(cfg.title)
    .uid(cfg.uid)
    .tags(cfg.tags)
    .editable()
    .time({ from: cfg.from, to: 'now' })
    .refresh(cfg.refresh)
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .link(
      new dashboard.DashboardLinkBuilder('Video platform')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags(['video-platform'])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    );
}

/** A link to one dashboard, keeping time range and variables. */
export function linkTo(uid: string, title: string): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder(title)
    .type(dashboard.DashboardLinkType.Link)
    .url(`/d/${uid}`)
    .includeVars(true)
    .keepTime(true);
}

let refCounter = 0;
const nextRef = (): string => String.fromCharCode(65 + (refCounter++ % 26));

/** A Prometheus target. `exemplar` turns on exemplars (latency panels). */
export function prom(expr: string, legend: string, opts: { exemplar?: boolean; instant?: boolean; refId?: string } = {}): prometheus.DataqueryBuilder {
  const q = new prometheus.DataqueryBuilder()
    .datasource(PROMETHEUS)
    .refId(opts.refId ?? nextRef())
    .expr(expr)
    .legendFormat(legend)
    .editorMode(prometheus.QueryEditorMode.Code);
  if (opts.exemplar) q.exemplar(true);
  if (opts.instant) q.instant().format(prometheus.PromQueryFormat.Table);
  else q.range();
  return q;
}

/** Resets the refId counter (each panel's targets start at A). */
const withTargets = <T extends { withTarget(t: prometheus.DataqueryBuilder): T }>(p: T, targets: prometheus.DataqueryBuilder[]): T => {
  for (const t of targets) p.withTarget(t);
  return p;
};

export interface PanelOpts {
  unit?: string;
  min?: number;
  max?: number;
  /** A red threshold line/area at this value (objectives, the 5 % line). */
  threshold?: number;
  stack?: boolean;
}

function thresholds(t: number | undefined): dashboard.ThresholdsConfigBuilder {
  const steps: dashboard.Threshold[] = [{ value: null as unknown as number, color: 'green' }];
  if (t !== undefined) steps.push({ value: t, color: 'red' });
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps);
}

export function timeseriesPanel(
  title: string,
  description: string,
  targets: (() => prometheus.DataqueryBuilder[]) | prometheus.DataqueryBuilder[],
  opts: PanelOpts = {},
): timeseries.PanelBuilder {
  refCounter = 0;
  const p = new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(PROMETHEUS)
    .unit(opts.unit ?? 'short')
    .lineWidth(1)
    .fillOpacity(opts.stack ? 30 : 10)
    .showPoints(common.VisibilityMode.Never)
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Bottom)
        .showLegend(true)
        .calcs(['mean', 'max']),
    )
    .thresholds(thresholds(opts.threshold))
    .thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(
        opts.threshold === undefined ? common.GraphThresholdsStyleMode.Off : common.GraphThresholdsStyleMode.Line,
      ),
    );
  if (opts.min !== undefined) p.min(opts.min);
  if (opts.max !== undefined) p.max(opts.max);
  if (opts.stack) p.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  return withTargets(p, typeof targets === 'function' ? targets() : targets);
}

export function statPanel(title: string, description: string, targets: prometheus.DataqueryBuilder[], opts: PanelOpts = {}): stat.PanelBuilder {
  refCounter = 0;
  const p = new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(PROMETHEUS)
    .unit(opts.unit ?? 'short')
    .thresholds(thresholds(opts.threshold))
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.Area)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']));
  if (opts.min !== undefined) p.min(opts.min);
  if (opts.max !== undefined) p.max(opts.max);
  return withTargets(p, targets);
}

/** A Tempo TraceQL search table. */
export function traceqlPanel(title: string, description: string, query: string, limit = 20): table.PanelBuilder {
  return new table.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(TEMPO)
    .withTarget(new tempo.DataqueryBuilder().datasource(TEMPO).refId('A').queryType('traceql').query(query).limit(limit).tableType(tempo.SearchTableType.Traces));
}

/** A Loki logs panel; log lines carry trace_id, linked to Tempo by the Loki datasource's derived field. */
export function logqlPanel(title: string, description: string, expr: string): logs.PanelBuilder {
  return new logs.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(LOKI)
    .showTime(true)
    .enableLogDetails(true)
    .wrapLogMessage(true)
    .sortOrder(common.LogsSortOrder.Descending)
    .withTarget(new loki.DataqueryBuilder().datasource(LOKI).refId('A').expr(expr).queryType('range'));
}

/** A Loki metric query (log volume) as a time series. */
export function logqlTimeseries(title: string, description: string, expr: string, legend: string, unit = 'short'): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(LOKI)
    .unit(unit)
    .fillOpacity(30)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .withTarget(new loki.DataqueryBuilder().datasource(LOKI).refId('A').expr(expr).legendFormat(legend).queryType('range'));
}

export const row = (title: string): dashboard.RowBuilder => new dashboard.RowBuilder(title);

export { DASHBOARD_UIDS };
