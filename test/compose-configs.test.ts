// The configs the stack's components load: checked by the components' own tools where they run
// here (promtool, amtool), and for Tempo, Loki and the collector (which do not run here) by the
// list of keys their pinned versions need for the pipelines the stack relies on. When a version
// bump renames a key, the list below is where it shows.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SAMPLING_RATIO, STACK, STACK_OTLP_ENDPOINT } from '../src/signals/index.ts';
import { freePort, requireBinary, startProcess, tempDir, waitFor, waitForPort } from './harness/process.ts';
import { bindMounts, envOf, hostPort, loadCompose, readYaml, requireFile, rootPath } from './compose-spec/stack.ts';

const compose = loadCompose();
const temps: { cleanup: () => void }[] = [];
afterAll(() => temps.forEach((t) => t.cleanup()));

/** Value at a dotted path (`a.b.0.c`), or undefined. */
function at(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}
function missingKeys(obj: unknown, paths: string[]): string[] {
  return paths.filter((p) => at(obj, p) === undefined);
}
/** The collector's config merge: maps merge recursively, lists and scalars are replaced. */
function mergeConfigs(base: unknown, overlay: unknown): unknown {
  if (base && overlay && typeof base === 'object' && typeof overlay === 'object' && !Array.isArray(base) && !Array.isArray(overlay)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(overlay)) out[k] = k in out ? mergeConfigs(out[k], v) : v;
    return out;
  }
  return overlay;
}

describe('Prometheus config (promtool)', () => {
  const promtool = (): string => requireBinary('promtool', 'apt-get install -y prometheus');

  it('promtool check config accepts prometheus/prometheus.yml', () => {
    const r = spawnSync(promtool(), ['check', 'config', rootPath('prometheus/prometheus.yml')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('promtool check config accepts it laid out as in the container, with the generated rule files it loads', () => {
    // alerts/generated/*.yml is written by `npm run generate` (DASHBOARDS engineer): without it
    // there is nothing for Prometheus to load, and this test says so rather than pass vacuously.
    requireFile('alerts/generated', 'the DASHBOARDS engineer: `npm run generate` writes alerts/generated/*.yml');
    const rules = readdirSync(rootPath('alerts/generated')).filter((f) => f.endsWith('.yml'));
    expect(rules.length, 'alerts/generated/*.yml: no rule file generated yet (run `npm run generate`)').toBeGreaterThan(0);
    const dir = tempDir('compose-prometheus');
    temps.push(dir);
    mkdirSync(join(dir.path, 'rules'));
    copyFileSync(rootPath('prometheus/prometheus.yml'), join(dir.path, 'prometheus.yml'));
    for (const f of rules) copyFileSync(rootPath('alerts/generated', f), join(dir.path, 'rules', f));
    const r = spawnSync(promtool(), ['check', 'config', join(dir.path, 'prometheus.yml')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    for (const f of rules) expect(r.stdout + r.stderr, `promtool checked rules/${f}`).toContain(`rules/${f}`);
    expect(r.stdout + r.stderr).not.toMatch(/FAILED/);
  });
});

describe('Alertmanager config (amtool)', () => {
  it('amtool check-config accepts alertmanager/alertmanager.yml', () => {
    const file = requireFile('alertmanager/alertmanager.yml', 'the DASHBOARDS engineer: `npm run generate`');
    const amtool = requireBinary('amtool', 'apt-get install -y prometheus-alertmanager');
    const r = spawnSync(amtool, ['check-config', rootPath(file)], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS/);
  });

  it('notifies only hosts that are compose services, on the ports they listen on (mail to Mailpit SMTP)', () => {
    const file = requireFile('alertmanager/alertmanager.yml', 'the DASHBOARDS engineer: `npm run generate`');
    const cfg = readYaml<{ global?: { smtp_smarthost?: string }; receivers?: { email_configs?: { smarthost?: string }[]; webhook_configs?: { url?: string }[] }[] }>(file);
    const smarthosts = [cfg.global?.smtp_smarthost, ...(cfg.receivers ?? []).flatMap((r) => (r.email_configs ?? []).map((e) => e.smarthost))].filter(Boolean);
    expect(smarthosts.length, 'an email receiver').toBeGreaterThan(0);
    for (const h of smarthosts) expect(h).toBe(`${STACK.mailpit.host}:${STACK.mailpit.smtpPort}`);
    const urls = (cfg.receivers ?? []).flatMap((r) => (r.webhook_configs ?? []).map((w) => w.url ?? ''));
    for (const u of urls) {
      const url = new URL(u);
      const target = compose.services[url.hostname];
      expect(target, `webhook ${u}: compose service ${url.hostname}`).toBeDefined();
      const cmd = [target?.command].flat().join(' ');
      expect(cmd, `${url.hostname} listens on ${url.port}`).toContain(`.listen(${url.port}`);
    }
  });

  it('the alert-webhook sink accepts a notification and prints it on one line', async () => {
    const cmd = [compose.services['alert-webhook']?.command].flat();
    const script = cmd[2] ?? '';
    expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
    expect(script).toContain(".listen(8080, '0.0.0.0')");
    // The same script, on a free loopback port instead of the container's 0.0.0.0:8080.
    const port = await freePort();
    const proc = startProcess(process.execPath, ['-e', script.replace(".listen(8080, '0.0.0.0')", `.listen(${port}, '127.0.0.1')`)]);
    try {
      await waitForPort(port, 10_000, proc.proc);
      const body = JSON.stringify({ status: 'firing', alerts: [{ labels: { alertname: 'VideoApiHighErrorRatio' } }] });
      const res = await fetch(`http://127.0.0.1:${port}/alerts`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(200);
      await waitFor(() => proc.output().includes('VideoApiHighErrorRatio'), 5_000, 'the notification on stdout');
      const line = proc.output().split('\n').find((l) => l.includes('VideoApiHighErrorRatio')) ?? '';
      expect(line).toContain('POST /alerts');
      expect(line).toContain(body);
    } finally {
      await proc.stop();
    }
  });
});

describe('OpenTelemetry Collector config (contrib 0.155)', () => {
  const cfg = readYaml('otel-collector/config.yaml');
  const overlay = readYaml('otel-collector/tail-sampling.yaml');

  it('has the keys the pipelines need, under their current names', () => {
    expect(
      missingKeys(cfg, [
        'receivers.otlp.protocols.grpc.endpoint',
        'receivers.otlp.protocols.http.endpoint',
        'processors.memory_limiter.check_interval',
        'processors.memory_limiter.limit_percentage',
        'processors.memory_limiter.spike_limit_percentage',
        'processors.batch.timeout',
        'exporters.otlp_grpc/tempo.endpoint',
        'exporters.otlp_grpc/tempo.tls.insecure',
        'exporters.otlp_http/loki.endpoint',
        'service.telemetry.metrics.readers.0.pull.exporter.prometheus.port',
        'service.pipelines.traces.receivers',
        'service.pipelines.logs.receivers',
      ]),
    ).toEqual([]);
    // Deprecated since v0.144 (`otlp` -> `otlp_grpc`, `otlphttp` -> `otlp_http`), and the
    // removed `service.telemetry.metrics.address`.
    const exporters = Object.keys(at(cfg, 'exporters') as object);
    for (const e of exporters) expect(e.split('/')[0], e).toMatch(/^(otlp_grpc|otlp_http)$/);
    expect(at(cfg, 'service.telemetry.metrics.address')).toBeUndefined();
  });

  it('receives OTLP on the ports compose publishes and the services use', () => {
    const recv = at(cfg, 'receivers.otlp.protocols') as Record<string, { endpoint: string }>;
    expect(recv.grpc?.endpoint).toBe(`0.0.0.0:${STACK.otelCollector.otlpGrpcPort}`);
    expect(recv.http?.endpoint).toBe(`0.0.0.0:${STACK.otelCollector.otlpHttpPort}`);
    expect(STACK_OTLP_ENDPOINT).toBe(`http://${STACK.otelCollector.host}:${STACK.otelCollector.otlpHttpPort}`);
    expect(compose.services['otel-collector']?.ports).toEqual([`127.0.0.1:${STACK.otelCollector.otlpGrpcPort}:${STACK.otelCollector.otlpGrpcPort}`, `127.0.0.1:${STACK.otelCollector.otlpHttpPort}:${STACK.otelCollector.otlpHttpPort}`]);
  });

  it('sends traces to Tempo OTLP/gRPC and logs to Loki OTLP/HTTP, on the ports their configs listen on', () => {
    const tempo = readYaml('tempo/tempo.yaml');
    const tempoGrpc = String(at(tempo, 'distributor.receivers.otlp.protocols.grpc.endpoint'));
    expect(at(cfg, 'exporters.otlp_grpc/tempo.endpoint')).toBe(`${STACK.tempo.host}:${hostPort(tempoGrpc)[1]}`);
    const loki = readYaml('loki/loki.yaml');
    expect(at(cfg, 'exporters.otlp_http/loki.endpoint')).toBe(`http://${STACK.loki.host}:${String(at(loki, 'server.http_listen_port'))}/otlp`);
  });

  it('runs memory_limiter first and batch last in every pipeline, and defines every component a pipeline names', () => {
    const pipelines = at(cfg, 'service.pipelines') as Record<string, Record<string, string[]>>;
    expect(Object.keys(pipelines).sort()).toEqual(['logs', 'traces']);
    expect(pipelines.traces?.exporters).toEqual(['otlp_grpc/tempo']);
    expect(pipelines.logs?.exporters).toEqual(['otlp_http/loki']);
    for (const [name, p] of Object.entries(pipelines)) {
      expect(p.processors?.[0], name).toBe('memory_limiter');
      expect(p.processors?.at(-1), name).toBe('batch');
      for (const kind of ['receivers', 'processors', 'exporters']) {
        for (const c of p[kind] ?? []) expect(at(cfg, `${kind}.${c}`), `${name}: ${kind}.${c}`).not.toBeUndefined();
      }
    }
  });

  it('the tail-sampling overlay merges into a traces pipeline that keeps errors and slow traces and samples the rest at the production ratio', () => {
    const merged = mergeConfigs(cfg, overlay);
    expect(at(merged, 'service.pipelines.traces.processors')).toEqual(['memory_limiter', 'tail_sampling', 'batch']);
    expect(at(merged, 'service.pipelines.logs.processors'), 'logs pipeline untouched').toEqual(at(cfg, 'service.pipelines.logs.processors'));
    expect(missingKeys(merged, ['processors.tail_sampling.decision_wait', 'processors.tail_sampling.num_traces', 'processors.tail_sampling.policies', 'exporters.otlp_grpc/tempo.endpoint'])).toEqual([]);
    const policies = at(merged, 'processors.tail_sampling.policies') as { type: string; status_code?: { status_codes: string[] }; probabilistic?: { sampling_percentage: number } }[];
    expect(policies.map((p) => p.type)).toEqual(['status_code', 'latency', 'probabilistic']);
    expect(policies[0]?.status_code?.status_codes).toEqual(['ERROR']);
    expect(policies[2]?.probabilistic?.sampling_percentage).toBe(SAMPLING_RATIO.production * 100);
    // Not active unless passed as a second --config (docs/stack.md says how).
    expect([compose.services['otel-collector']?.command].flat()).toEqual(['--config=/etc/otelcol-contrib/config.yaml']);
    expect(existsSync(rootPath('otel-collector/tail-sampling.yaml'))).toBe(true);
  });
});

describe('Tempo config (2.10)', () => {
  const cfg = readYaml('tempo/tempo.yaml');

  it('has the keys the pipeline needs: OTLP receivers, ingester, compactor retention, metrics generator, local storage', () => {
    expect(
      missingKeys(cfg, [
        'server.http_listen_port',
        'stream_over_http_enabled',
        'distributor.receivers.otlp.protocols.grpc.endpoint',
        'distributor.receivers.otlp.protocols.http.endpoint',
        'ingester.max_block_duration',
        'compactor.compaction.block_retention',
        'metrics_generator.storage.path',
        'metrics_generator.storage.remote_write.0.url',
        'metrics_generator.storage.remote_write.0.send_exemplars',
        'metrics_generator.traces_storage.path',
        'metrics_generator.processor.service_graphs',
        'metrics_generator.processor.span_metrics',
        'metrics_generator.processor.local_blocks',
        'storage.trace.backend',
        'storage.trace.wal.path',
        'storage.trace.local.path',
        'overrides.defaults.metrics_generator.processors',
      ]),
    ).toEqual([]);
    // Removed or legacy keys that a 2.10 binary rejects or ignores.
    for (const old of ['search_enabled', 'overrides.metrics_generator_processors', 'storage.trace.cache', 'query_frontend.search.max_duration_legacy']) {
      expect(at(cfg, old), old).toBeUndefined();
    }
  });

  it('listens for OTLP on all interfaces, remote-writes span metrics with exemplars to the compose Prometheus', () => {
    expect(at(cfg, 'distributor.receivers.otlp.protocols.grpc.endpoint')).toBe(`0.0.0.0:${STACK.tempo.otlpGrpcPort}`);
    expect(at(cfg, 'distributor.receivers.otlp.protocols.http.endpoint')).toBe(`0.0.0.0:${STACK.tempo.otlpHttpPort}`);
    expect(at(cfg, 'server.http_listen_port')).toBe(STACK.tempo.port);
    expect(at(cfg, 'metrics_generator.storage.remote_write.0.url')).toBe(`http://${STACK.prometheus.host}:${STACK.prometheus.port}/api/v1/write`);
    expect(at(cfg, 'metrics_generator.storage.remote_write.0.send_exemplars')).toBe(true);
    expect(at(cfg, 'overrides.defaults.metrics_generator.processors')).toEqual(['service-graphs', 'span-metrics', 'local-blocks']);
    expect(at(cfg, 'storage.trace.backend')).toBe('local');
  });

  it('keeps every path it writes on the volume compose mounts', () => {
    const volumeTarget = (compose.services.tempo?.volumes ?? []).map(String).find((v) => v.startsWith('tempo-data:'))?.split(':')[1] ?? '';
    expect(volumeTarget).toBe('/var/tempo');
    for (const p of ['metrics_generator.storage.path', 'metrics_generator.traces_storage.path', 'storage.trace.wal.path', 'storage.trace.local.path']) {
      expect(String(at(cfg, p)).startsWith(`${volumeTarget}/`), p).toBe(true);
    }
    expect(bindMounts(compose.services.tempo ?? {}).map((m) => m.target)).toEqual(['/etc/tempo/tempo.yaml']);
  });
});

describe('Loki config (3.7)', () => {
  const cfg = readYaml('loki/loki.yaml');

  it('has the keys OTLP ingestion, structured metadata and compactor retention need', () => {
    expect(
      missingKeys(cfg, [
        'auth_enabled',
        'server.http_listen_port',
        'common.path_prefix',
        'common.storage.filesystem.chunks_directory',
        'common.replication_factor',
        'common.ring.kvstore.store',
        'schema_config.configs.0.store',
        'schema_config.configs.0.schema',
        'limits_config.allow_structured_metadata',
        'limits_config.retention_period',
        'limits_config.otlp_config.resource_attributes.attributes_config.0.action',
        'compactor.working_directory',
        'compactor.retention_enabled',
        'compactor.delete_request_store',
      ]),
    ).toEqual([]);
    // Removed in Loki 3.0: a 3.x binary refuses to start with them.
    for (const old of ['compactor.shared_store', 'storage_config.boltdb_shipper.shared_store', 'limits_config.enforce_metric_name', 'table_manager', 'chunk_store_config.max_look_back_period']) {
      expect(at(cfg, old), old).toBeUndefined();
    }
  });

  it('uses the TSDB v13 schema (required for structured metadata), keeps trace_id out of the index, retention on', () => {
    const configs = at(cfg, 'schema_config.configs') as { store: string; schema: string }[];
    expect(configs.at(-1)).toMatchObject({ store: 'tsdb', schema: 'v13' });
    expect(at(cfg, 'limits_config.allow_structured_metadata')).toBe(true);
    expect(at(cfg, 'compactor.retention_enabled')).toBe(true);
    const labels = (at(cfg, 'limits_config.otlp_config.resource_attributes.attributes_config') as { action: string; attributes: string[] }[])
      .filter((a) => a.action === 'index_label')
      .flatMap((a) => a.attributes);
    expect(labels).toContain('service.name');
    expect(labels.some((l) => /trace|span/.test(l)), 'trace_id/span_id as index labels would explode the streams').toBe(false);
    expect(at(cfg, 'server.http_listen_port')).toBe(STACK.loki.port);
  });

  it('keeps every path it writes on the volume compose mounts', () => {
    const volumeTarget = (compose.services.loki?.volumes ?? []).map(String).find((v) => v.startsWith('loki-data:'))?.split(':')[1] ?? '';
    expect(volumeTarget).toBe('/loki');
    for (const p of ['common.path_prefix', 'common.storage.filesystem.chunks_directory', 'common.storage.filesystem.rules_directory', 'compactor.working_directory']) {
      expect(String(at(cfg, p)).startsWith(volumeTarget), p).toBe(true);
    }
  });
});

describe('services in compose against the configs', () => {
  it('gives the collector no OTLP metrics to forward: every instrumented process has OTLP metrics off', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      if (!envOf(s).OTEL_SERVICE_NAME) continue;
      expect(envOf(s).OTEL_METRICS_EXPORTER, name).toBe('none');
    }
    expect(at(readYaml('otel-collector/config.yaml'), 'service.pipelines.metrics')).toBeUndefined();
  });
});
