// Static checks of the generated dashboards and Grafana provisioning: stable UIDs, fixed
// datasources, a description on every panel, variables, links, exemplars on latency panels, and
// every PromQL / LogQL / TraceQL query parsing with the grammar Grafana itself uses.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import { parser as logqlParser } from '@grafana/lezer-logql';
import { parser as traceqlParser } from '@grafana/lezer-traceql';
import type { LRParser } from '@lezer/lr';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARD_UIDS, DATASOURCE_UIDS } from '../dashboards/uids.ts';
import { panelsOf, queriesOf, substitute, type DashboardJson } from '../dashboards/queries.ts';
import { SPAN_EVENT_TYPES } from '../dashboards/traces-logs.ts';
import { GRAFANA_DASHBOARDS_DIR } from '../grafana/provisioning.ts';
import * as signals from '../src/signals/index.ts';
import { HTTP_SERVER_DURATION, LABEL_ENVIRONMENT, LABEL_SERVICE, TRACE_STORAGE_BUDGET_BYTES_PER_DAY, VIDEO_EVENTS } from '../src/signals/index.ts';
import { ROOT } from '../scripts/generate.ts';

const dir = join(ROOT, 'dashboards/generated');
const dashboards: DashboardJson[] = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as DashboardJson);
const queries = dashboards.flatMap(queriesOf);
const VARS = { [LABEL_ENVIRONMENT]: 'development', [LABEL_SERVICE]: 'video-api', span_event: 'video.range_request', testid: 'run-1' };

/** Parse errors (positions) of `text` under a lezer grammar. */
function parseErrors(p: LRParser, text: string): number[] {
  const errs: number[] = [];
  p.parse(text).iterate({
    enter(n) {
      if (n.type.isError) errs.push(n.from);
    },
  });
  return errs;
}

describe('generated dashboards', () => {
  it('are exactly the seven dashboards, each in <uid>.json with its stable UID', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual(Object.values(DASHBOARD_UIDS).sort());
    for (const f of readdirSync(dir)) expect(Object.values(DASHBOARD_UIDS)).toContain(f.replace(/\.json$/, ''));
  });

  it('describe every panel and give every panel a title', () => {
    for (const d of dashboards)
      for (const p of panelsOf(d)) {
        expect(p.title, `${d.title}: panel title`).toBeTruthy();
        expect((p as { description?: string }).description, `${d.title} / ${p.title}: description`).toBeTruthy();
      }
  });

  it('use only the fixed datasource UIDs', () => {
    const allowed = Object.values(DATASOURCE_UIDS);
    for (const q of queries) expect(allowed, `${q.dashboard} / ${q.panel}`).toContain(q.datasource);
    expect(queries.length).toBeGreaterThan(40);
  });

  it('offer the environment variable everywhere and the service variable where panels are per service', () => {
    for (const d of dashboards) expect(d.templating?.list?.map((v) => v.name), d.title).toContain(LABEL_ENVIRONMENT);
    for (const uid of [DASHBOARD_UIDS.overview, DASHBOARD_UIDS.traces]) {
      const d = dashboards.find((x) => x.uid === uid) as DashboardJson;
      expect(d.templating?.list?.map((v) => v.name)).toContain(LABEL_SERVICE);
    }
  });

  it('link to each other (tag dropdown on all, the overview links to every other dashboard)', () => {
    for (const d of dashboards) {
      const links = (d as unknown as { links: { type: string; tags?: string[]; url?: string }[] }).links;
      expect(links.some((l) => l.type === 'dashboards' && l.tags?.includes('video-platform')), d.title).toBe(true);
      if (d.uid !== DASHBOARD_UIDS.overview) expect(links.some((l) => l.url === `/d/${DASHBOARD_UIDS.overview}`), `${d.title} links home`).toBe(true);
    }
    const overview = dashboards.find((d) => d.uid === DASHBOARD_UIDS.overview) as unknown as { links: { url?: string }[] };
    for (const uid of [DASHBOARD_UIDS.streaming, DASHBOARD_UIDS.uploads, DASHBOARD_UIDS.dependencies, DASHBOARD_UIDS.traces, DASHBOARD_UIDS.telemetry])
      expect(overview.links.map((l) => l.url)).toContain(`/d/${uid}`);
  });

  it('turn exemplars on for every request-latency quantile query', () => {
    const latency = queries.filter((q) => q.expr.includes(`${HTTP_SERVER_DURATION}_bucket`) && q.expr.includes('histogram_quantile(0.95'));
    expect(latency.length).toBeGreaterThan(5);
    for (const q of latency) expect(q.exemplar, `${q.dashboard} / ${q.panel}`).toBe(true);
  });

  it('parse every PromQL expression with the Prometheus grammar (variables substituted)', () => {
    const prom = queries.filter((q) => q.datasource === DATASOURCE_UIDS.prometheus);
    expect(prom.length).toBeGreaterThan(40);
    for (const q of prom) {
      const expr = substitute(q.expr, VARS);
      expect(expr, `${q.dashboard} / ${q.panel}: unsubstituted variable`).not.toMatch(/\$[A-Za-z_]/);
      expect(parseErrors(promqlParser, expr), `${q.dashboard} / ${q.panel}: ${expr}`).toEqual([]);
    }
  });

  it('parse every LogQL and TraceQL query with Grafana\'s lezer grammars', () => {
    const loki = queries.filter((q) => q.datasource === DATASOURCE_UIDS.loki);
    const tempo = queries.filter((q) => q.datasource === DATASOURCE_UIDS.tempo);
    expect(loki.length).toBeGreaterThan(2);
    expect(tempo.length).toBeGreaterThan(2);
    for (const q of loki) expect(parseErrors(logqlParser, substitute(q.expr, VARS)), `${q.dashboard} / ${q.panel}: ${q.expr}`).toEqual([]);
    for (const q of tempo) expect(parseErrors(traceqlParser, substitute(q.expr, VARS)), `${q.dashboard} / ${q.panel}: ${q.expr}`).toEqual([]);
    // The grammars do reject nonsense (so the checks above can fail).
    expect(parseErrors(logqlParser, '{service_name=} |=')).not.toEqual([]);
    expect(parseErrors(traceqlParser, '{ span.x = && }')).not.toEqual([]);
    expect(parseErrors(promqlParser, 'sum by (a (rate(x[5m]))')).not.toEqual([]);
  });

  it('filter traces by every span event type the service records', () => {
    for (const e of VIDEO_EVENTS) expect(SPAN_EVENT_TYPES).toContain(e);
    const traces = dashboards.find((d) => d.uid === DASHBOARD_UIDS.traces) as DashboardJson;
    const v = traces.templating?.list?.find((x) => x.name === 'span_event') as unknown as { query: string };
    expect(v.query.split(',')).toEqual([...SPAN_EVENT_TYPES]);
    expect(queriesOf(traces).some((q) => q.expr.includes('event:name = "$span_event"'))).toBe(true);
  });

  it('compare projected trace storage with the budget from src/signals', () => {
    const health = dashboards.find((d) => d.uid === DASHBOARD_UIDS.telemetry) as DashboardJson;
    const stat = panelsOf(health).find((p) => p.title === 'Projected trace storage per day') as unknown as {
      fieldConfig: { defaults: { thresholds: { steps: { value: number | null }[] } } };
    };
    expect(stat.fieldConfig.defaults.thresholds.steps.map((s) => s.value)).toContain(TRACE_STORAGE_BUDGET_BYTES_PER_DAY);
  });
});

describe('dashboard and alert sources', () => {
  it('never spell a metric name from src/signals as a literal (they import the constant)', () => {
    const collect = (v: unknown): string[] =>
      typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v as Record<string, unknown>).flatMap(collect) : [];
    const metricNames = Object.values(signals)
      .flatMap(collect)
      .filter((n) => /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/.test(n) && /_(total|seconds|bytes|clients|jobs)$/.test(n));
    expect(metricNames).toContain(HTTP_SERVER_DURATION);
    const dirs = ['dashboards', 'alerts', 'alerts/tests'];
    const sources = [
      ...dirs.flatMap((d) => readdirSync(join(ROOT, d)).filter((f) => f.endsWith('.ts')).map((f) => join(d, f))),
      'alertmanager/config.ts',
      'grafana/provisioning.ts',
    ];
    const offenders: string[] = [];
    for (const rel of sources) {
      const text = readFileSync(join(ROOT, rel), 'utf8');
      for (const name of metricNames) if (new RegExp(`['"\`]${name}(_bucket|_count|_sum)?['"\`{]`).test(text)) offenders.push(`${rel}: ${name}`);
    }
    expect(offenders).toEqual([]);
  });
});

describe('Grafana provisioning', () => {
  const ds = parse(readFileSync(join(ROOT, 'grafana/provisioning/datasources/datasources.yml'), 'utf8'));
  const byUid = (uid: string) => ds.datasources.find((d: { uid: string }) => d.uid === uid);

  it('provisions the four datasources with their fixed UIDs and compose URLs', () => {
    expect(ds.datasources.map((d: { uid: string }) => d.uid).sort()).toEqual(Object.values(DATASOURCE_UIDS).sort());
    expect(byUid('prometheus').url).toBe('http://prometheus:9090');
    expect(byUid('tempo').url).toBe('http://tempo:3200');
    expect(byUid('loki').url).toBe('http://loki:3100');
    expect(byUid('alertmanager').url).toBe('http://alertmanager:9093');
  });

  it('cross-links exemplars, logs, traces, metrics and the service map', () => {
    expect(byUid('prometheus').jsonData.exemplarTraceIdDestinations).toEqual([{ name: 'trace_id', datasourceUid: 'tempo' }]);
    const derived = byUid('loki').jsonData.derivedFields[0];
    expect(derived).toMatchObject({ name: 'trace_id', datasourceUid: 'tempo', matcherType: 'label' });
    // $$ escapes Grafana's environment-variable interpolation in provisioning files.
    expect(derived.url).toBe('$${__value.raw}');
    const tempo = byUid('tempo').jsonData;
    expect(tempo.tracesToLogsV2.datasourceUid).toBe('loki');
    expect(tempo.tracesToMetrics.datasourceUid).toBe('prometheus');
    for (const q of tempo.tracesToMetrics.queries) expect(q.query).toContain('$$__tags');
    expect(tempo.serviceMap.datasourceUid).toBe('prometheus');
  });

  it('loads dashboards from the folder compose mounts dashboards/generated at', () => {
    const prov = parse(readFileSync(join(ROOT, 'grafana/provisioning/dashboards/dashboards.yml'), 'utf8'));
    expect(prov.providers[0].options.path).toBe(GRAFANA_DASHBOARDS_DIR);
    expect(GRAFANA_DASHBOARDS_DIR).toBe('/var/lib/grafana/dashboards');
  });
});
