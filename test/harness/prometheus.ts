// Starts a real Prometheus (Debian package, 2.42) on 127.0.0.1 on a free port, in its own temp
// dir, scraping the given targets every `scrapeInterval`, with exemplar storage and a short alert
// resend delay; stops it by PID. Query helpers wrap the HTTP API.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, requireBinary, startProcess, tempDir, waitForHttpReady } from './process.ts';

export interface ScrapeTarget {
  job: string;
  /** host:port */
  target: string;
  metricsPath?: string;
}

export interface PrometheusOptions {
  targets: ScrapeTarget[];
  /** Absolute paths of rule files to load. */
  ruleFiles?: string[];
  /** host:port of an Alertmanager to send alerts to. */
  alertmanager?: string;
  scrapeInterval?: string;
  evaluationInterval?: string;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}
export interface PromExemplars {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

export interface PrometheusHandle {
  url: string;
  port: number;
  output: () => string;
  /** Instant query; throws with Prometheus's error text when the query is invalid. */
  query: (expr: string) => Promise<PromSample[]>;
  /** /api/v1/query_exemplars over the last `seconds`. */
  queryExemplars: (expr: string, seconds: number) => Promise<PromExemplars[]>;
  /** Active alerts (/api/v1/alerts). */
  alerts: () => Promise<{ labels: Record<string, string>; state: string; activeAt: string }[]>;
  /** Up targets (/api/v1/targets), by job. */
  targetHealth: () => Promise<Record<string, string>>;
  stop: () => Promise<void>;
}

const HINT = 'apt-get install -y prometheus';

export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusHandle> {
  const bin = requireBinary('prometheus', HINT);
  const port = await freePort();
  const dir = tempDir('prometheus');
  const scrapeInterval = opts.scrapeInterval ?? '1s';
  const config = {
    global: { scrape_interval: scrapeInterval, evaluation_interval: opts.evaluationInterval ?? scrapeInterval, scrape_timeout: scrapeInterval },
    ...(opts.ruleFiles?.length ? { rule_files: opts.ruleFiles } : {}),
    ...(opts.alertmanager ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [opts.alertmanager] }] }] } } : {}),
    scrape_configs: opts.targets.map((t) => ({
      job_name: t.job,
      metrics_path: t.metricsPath ?? '/metrics',
      static_configs: [{ targets: [t.target] }],
    })),
  };
  const configFile = join(dir.path, 'prometheus.yml');
  writeFileSync(configFile, stringify(config));
  const started = startProcess(bin, [
    `--config.file=${configFile}`,
    `--web.listen-address=127.0.0.1:${port}`,
    `--storage.tsdb.path=${join(dir.path, 'data')}`,
    '--enable-feature=exemplar-storage',
    // Without this the first notification waits up to a minute.
    '--rules.alert.resend-delay=1s',
    '--web.enable-lifecycle',
    '--log.level=warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttpReady(started, `${url}/-/ready`, 'prometheus', dir.cleanup);

  async function api<T>(path: string, params: Record<string, string>): Promise<T> {
    const res = await fetch(`${url}${path}`, { method: 'POST', body: new URLSearchParams(params) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.error ?? res.status}`);
    return body.data;
  }

  return {
    url,
    port,
    output: started.output,
    query: async (expr) => (await api<{ result: PromSample[] }>('/api/v1/query', { query: expr })).result,
    queryExemplars: async (expr, seconds) => {
      const end = Date.now() / 1000;
      return api<PromExemplars[]>('/api/v1/query_exemplars', { query: expr, start: String(end - seconds), end: String(end) });
    },
    alerts: async () => {
      const body = (await (await fetch(`${url}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string; activeAt: string }[] } };
      return body.data.alerts;
    },
    targetHealth: async () => {
      const body = (await (await fetch(`${url}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: Record<string, string>; health: string }[] } };
      return Object.fromEntries(body.data.activeTargets.map((t) => [t.labels.job ?? '', t.health]));
    },
    stop: async () => {
      await started.stop();
      dir.cleanup();
    },
  };
}
