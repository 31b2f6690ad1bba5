// Extracts every query of a generated dashboard (for the static and live tests) and
// substitutes Grafana variables the way Grafana would before sending them.

export interface PanelQuery {
  dashboard: string;
  dashboardUid: string;
  panel: string;
  /** Datasource UID: prometheus, tempo or loki. */
  datasource: string;
  expr: string;
  exemplar: boolean;
}

interface PanelJson {
  title?: string;
  type?: string;
  datasource?: { uid?: string };
  targets?: { expr?: string; query?: string; exemplar?: boolean; datasource?: { uid?: string } }[];
  panels?: PanelJson[];
}
export interface DashboardJson {
  uid: string;
  title: string;
  panels?: PanelJson[];
  templating?: { list?: { name: string; query?: unknown; type?: string }[] };
}

export function panelsOf(d: DashboardJson): PanelJson[] {
  const out: PanelJson[] = [];
  const walk = (ps: PanelJson[] = []) => {
    for (const p of ps) {
      if (p.type !== 'row') out.push(p);
      walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

export function queriesOf(d: DashboardJson): PanelQuery[] {
  return panelsOf(d).flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      dashboard: d.title,
      dashboardUid: d.uid,
      panel: p.title ?? '(untitled)',
      datasource: t.datasource?.uid ?? p.datasource?.uid ?? '',
      expr: t.expr ?? t.query ?? '',
      exemplar: t.exemplar === true,
    })),
  );
}

/** Replaces `$name`, `${name}` and Grafana's built-ins (`$__rate_interval`, `$__auto`, ...). */
export function substitute(expr: string, vars: Record<string, string>, rateWindow = '1m'): string {
  const builtins: Record<string, string> = {
    __rate_interval: rateWindow,
    __interval: rateWindow,
    __range: rateWindow,
    __auto: rateWindow,
  };
  const all = { ...builtins, ...vars };
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b) as string;
    return name in all ? (all[name] as string) : m;
  });
}
