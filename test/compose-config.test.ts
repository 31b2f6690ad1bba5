// Consistency of the compose stack with itself and with the code: what a service mounts exists,
// what a config listens on is what compose publishes and Prometheus scrapes, what Grafana and
// the services point at are compose services on the right ports, every image is pinned.
// A file another engineer produces (alerts/generated, grafana/provisioning, dashboards/generated,
// load-tests/synthetic.ts, ...) fails the test that needs it with a message naming it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PORTS,
  LABEL_JOB,
  LOG_RETENTION_HOURS,
  SERVICES,
  SERVICE_API,
  SERVICE_WORKER,
  SLO_PERIOD,
  STACK,
  STACK_GRAFANA_DASHBOARDS_DIR,
  STACK_OTLP_ENDPOINT,
  STACK_PUBLISHED_PORTS,
  STACK_SCRAPE_INTERVAL,
  TRACE_RETENTION_HOURS,
} from '../src/signals/index.ts';
import { DASHBOARD_UIDS, DATASOURCE_UIDS } from '../dashboards/uids.ts';
import {
  bindMounts,
  envOf,
  hostPort,
  loadCompose,
  publishedPorts,
  readDotEnv,
  readText,
  readYaml,
  requireFile,
  rootPath,
  variableReferences,
  type ComposeService,
} from './compose-spec/stack.ts';

const compose = loadCompose();
const services = compose.services;
const svc = (name: string): ComposeService => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};

/** Services whose image cannot run a healthcheck, or that are clients/one-shot jobs, and why. */
const NO_HEALTHCHECK: Record<string, string> = {
  tempo: 'distroless image: no shell, no HTTP client',
  loki: 'distroless image since 3.x: no shell, no wget (a wget healthcheck keeps it unhealthy forever)',
  'otel-collector': 'scratch image: no shell, no HTTP client',
  'minio-init': 'one-shot job: dependants wait for service_completed_successfully',
  'db-migrate': 'one-shot job: dependants wait for service_completed_successfully',
  'session-token': 'one-shot job: dependants wait for service_completed_successfully',
  synthetic: 'traffic generator: nothing depends on it',
  k6: 'load test client run on demand: nothing depends on it',
};
/** Owners of the files the stack mounts but this engineer does not write. */
const PRODUCED_BY: Record<string, string> = {
  './alerts/generated': 'the DASHBOARDS engineer: `npm run generate` writes alerts/generated/*.yml',
  './dashboards/generated': 'the DASHBOARDS engineer: `npm run generate` writes dashboards/generated/*.json',
  './grafana/provisioning': 'the DASHBOARDS engineer: datasources and the dashboard provider',
  './alertmanager': 'the DASHBOARDS engineer: alertmanager/alertmanager.yml',
  './load-tests': 'the LOAD engineer: k6 scripts',
};

const prometheus = readYaml<{
  global: { scrape_interval: string };
  alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  rule_files: string[];
  scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
}>('prometheus/prometheus.yml');
const scrapeTargets = (job: string): string[] =>
  prometheus.scrape_configs.find((c) => c.job_name === job)?.static_configs.flatMap((s) => s.targets) ?? [];
const tempo = readYaml<{ server: { http_listen_port: number }; distributor: { receivers: { otlp: { protocols: Record<string, { endpoint: string }> } } }; compactor: { compaction: { block_retention: string } } }>('tempo/tempo.yaml');
const loki = readYaml<{ server: { http_listen_port: number }; limits_config: { retention_period: string } }>('loki/loki.yaml');
const collector = readYaml<{
  receivers: { otlp: { protocols: Record<string, { endpoint: string }> } };
  exporters: Record<string, { endpoint: string }>;
  service: { telemetry: { metrics: { readers: { pull: { exporter: { prometheus: { host: string; port: number } } } }[] } } };
}>('otel-collector/config.yaml');

const portOf = (endpoint: string): number => Number(endpoint.split(':').at(-1));
const hours = (d: string): number => {
  const m = /^(\d+)([hd])$/.exec(d);
  if (!m) throw new Error(`not a duration in hours or days: ${d}`);
  return Number(m[1]) * (m[2] === 'd' ? 24 : 1);
};

describe('compose file conventions', () => {
  it('puts a comment directly above every service saying what it is for', () => {
    const lines = readText('docker-compose.yml').split('\n');
    const start = lines.indexOf('services:');
    const missing: string[] = [];
    for (const name of Object.keys(services)) {
      const at = lines.findIndex((l, i) => i > start && l === `  ${name}:`);
      expect(at, `service ${name} line`).toBeGreaterThan(start);
      if (!/^\s{2}#/.test(lines[at - 1] ?? '')) missing.push(name);
    }
    expect(missing).toEqual([]);
  });

  it('takes every image tag from .env, pinned to a release (no latest, no bare name)', () => {
    const raw = readYaml<{ services: Record<string, { image?: string }> }>('docker-compose.yml').services;
    for (const [name, s] of Object.entries(services)) {
      if (!s.image) continue;
      if (s.build) {
        expect(s.image, `${name}: locally built image`).toMatch(/:local$/);
        continue;
      }
      expect(raw[name]?.image, `${name}: image must come from .env`).toMatch(/^[a-z0-9./_-]+:\$\{[A-Z0-9_]+_TAG\}$/);
      const tag = s.image.split('/').at(-1)?.split(':')[1];
      expect(tag, `${name}: ${s.image} has no tag`).toBeTruthy();
      expect(tag, `${name}: ${s.image}`).not.toMatch(/^(latest|main|master|edge|nightly)$/);
      expect(tag, `${name}: ${s.image} is not a version`).toMatch(/\d/);
    }
  });

  it('pins the Dockerfile base image to the same Node tag as .env', () => {
    const env = readDotEnv();
    expect(env.NODE_TAG).toMatch(/^24\.\d+\.\d+-[a-z]+-slim$/);
    expect(readText('Dockerfile')).toContain(`ARG NODE_IMAGE=node:${env.NODE_TAG}`);
  });

  it('gives every ${VAR} of docker-compose.yml a non-empty value in .env', () => {
    const env = readDotEnv();
    const unset = variableReferences(readText('docker-compose.yml')).filter((v) => !env[v]);
    expect(unset).toEqual([]);
  });

  it('does not use the admin/admin default for Grafana, and keeps anonymous access and sign-up off', () => {
    const env = envOf(svc('grafana'));
    expect(env.GF_SECURITY_ADMIN_PASSWORD).toBeTruthy();
    expect(env.GF_SECURITY_ADMIN_PASSWORD).not.toBe('admin');
    expect(readYaml<{ services: { grafana: { environment: Record<string, string> } } }>('docker-compose.yml').services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD).toBe('${GRAFANA_ADMIN_PASSWORD}');
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
    expect(env.GF_USERS_ALLOW_SIGN_UP).toBe('false');
  });

  it('publishes exactly the ports stack.ts lists, each bound to 127.0.0.1 and mapped to the same container port', () => {
    const published: Record<string, number[]> = {};
    for (const [name, s] of Object.entries(services)) {
      for (const p of publishedPorts(s)) {
        expect(p.hostIp, `${name} publishes ${p.hostPort} on all interfaces`).toBe('127.0.0.1');
        expect(p.hostPort, `${name}`).toBe(p.containerPort);
        (published[name] ??= []).push(p.containerPort);
      }
    }
    expect(published).toEqual(Object.fromEntries(Object.entries(STACK_PUBLISHED_PORTS).map(([k, v]) => [k, [...v]])));
  });
});

describe('mounts', () => {
  it('mounts only files and directories that exist in the repository', () => {
    const missing: string[] = [];
    for (const [name, s] of Object.entries(services)) {
      for (const m of bindMounts(s)) {
        if (!existsSync(rootPath(m.source))) missing.push(`${name}: ${m.source} (${PRODUCED_BY[m.source] ?? 'this repo'})`);
      }
    }
    expect(missing, `missing mounted paths:\n${missing.join('\n')}`).toEqual([]);
  });

  it('mounts every configuration read-only', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of bindMounts(s)) expect(m.readOnly, `${name}: ${m.source}`).toBe(true);
    }
  });

  it('mounts each config file where the service command reads it', () => {
    const cases: [string, string, string][] = [
      ['prometheus', './prometheus/prometheus.yml', '--config.file=/etc/prometheus/prometheus.yml'],
      ['tempo', './tempo/tempo.yaml', '-config.file=/etc/tempo/tempo.yaml'],
      ['loki', './loki/loki.yaml', '-config.file=/etc/loki/loki.yaml'],
      ['otel-collector', './otel-collector', '--config=/etc/otelcol-contrib/config.yaml'],
      ['alertmanager', './alertmanager', '--config.file=/etc/alertmanager/alertmanager.yml'],
    ];
    for (const [name, source, flag] of cases) {
      const s = svc(name);
      const mount = bindMounts(s).find((m) => m.source === source);
      expect(mount, `${name} mounts ${source}`).toBeDefined();
      const file = flag.split('=')[1] ?? '';
      expect(file.startsWith(mount?.target ?? '\0'), `${name}: ${file} is under ${mount?.target}`).toBe(true);
      expect([s.command].flat()).toContain(flag);
    }
  });
});

describe('health and start order', () => {
  it('health-checks every long-running service whose image can run a check', () => {
    const without = Object.entries(services)
      .filter(([, s]) => !s.healthcheck)
      .map(([n]) => n)
      .sort();
    expect(without).toEqual(Object.keys(NO_HEALTHCHECK).sort());
  });

  it('makes dependants wait for service_healthy on a health-checked service, service_completed_successfully on a one-shot job', () => {
    for (const [name, s] of Object.entries(services)) {
      const deps = s.depends_on ?? {};
      expect(Array.isArray(deps), `${name}: depends_on must use conditions`).toBe(false);
      for (const [dep, { condition }] of Object.entries(deps as Record<string, { condition: string }>)) {
        const target = svc(dep);
        const expected = target.restart === 'no' ? 'service_completed_successfully' : target.healthcheck ? 'service_healthy' : 'service_started';
        expect(condition, `${name} -> ${dep}`).toBe(expected);
      }
    }
  });

  it('has no dependency cycle (compose could never start such a stack)', () => {
    const state: Record<string, 'visiting' | 'done'> = {};
    const visit = (name: string, path: string[]): void => {
      if (state[name] === 'done') return;
      expect(state[name], `cycle: ${[...path, name].join(' -> ')}`).not.toBe('visiting');
      state[name] = 'visiting';
      for (const dep of Object.keys(svc(name).depends_on ?? {})) visit(dep, [...path, name]);
      state[name] = 'done';
    };
    for (const name of Object.keys(services)) visit(name, []);
    expect(Object.keys(state).length).toBe(Object.keys(services).length);
  });

  it('starts the service only after the bucket, the schema and its dependencies are ready', () => {
    const deps = Object.keys(svc(SERVICE_API).depends_on ?? {});
    expect(deps).toEqual(expect.arrayContaining(['redis', 'postgres', 'minio-init', 'db-migrate', 'otel-collector', 'crm-emulator']));
    expect(Object.keys(svc(SERVICE_WORKER).depends_on ?? {})).toEqual(expect.arrayContaining(['redis', 'minio-init', 'db-migrate', 'otel-collector']));
  });
});

describe('the service in compose', () => {
  const pkg = JSON.parse(readText('package.json')) as { scripts: Record<string, string> };
  const dockerCmd = (): string[] => {
    const m = /^CMD (\[.*\])$/m.exec(readText('Dockerfile'));
    if (!m?.[1]) throw new Error('Dockerfile has no exec-form CMD');
    return JSON.parse(m[1]) as string[];
  };

  /** An npm script split into its leading `VAR=value` assignments and the command after them. */
  const script = (name: string): { assigns: Record<string, string>; command: string } => {
    const words = (pkg.scripts[name] ?? '').split(/\s+/);
    const assigns: Record<string, string> = {};
    while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? '')) {
      const [k = '', ...v] = (words.shift() ?? '').split('=');
      assigns[k] = v.join('=');
    }
    return { assigns, command: words.join(' ') };
  };
  /** The value a `${VAR:-default}` assignment gets when compose sets VAR in the environment. */
  const expectAssignmentsHonoured = (service: string, assigns: Record<string, string>): void => {
    const env = envOf(svc(service));
    for (const [k, v] of Object.entries(assigns)) {
      const m = /^\$\{([A-Z_][A-Z0-9_]*):?-(.*)\}$/.exec(v);
      if (m) expect(env[m[1] ?? ''] ?? m[2], `${service}: ${k}`).toBe(m[2]);
      else expect(env[k], `${service}: ${k}`).toBe(v);
    }
  };

  it('runs video-api with the command of `npm start` (SDK preloaded) and video-worker with `npm run start:worker`', () => {
    const start = script('start');
    expect(dockerCmd().join(' ')).toBe(start.command);
    expectAssignmentsHonoured(SERVICE_API, start.assigns);
    expect(svc(SERVICE_API).command, 'video-api uses the image CMD').toBeUndefined();
    const worker = script('start:worker');
    expect([svc(SERVICE_WORKER).command].flat().join(' ')).toBe(worker.command);
    expectAssignmentsHonoured(SERVICE_WORKER, worker.assigns);
    expect(dockerCmd()).toEqual(expect.arrayContaining(['--import', './dist/telemetry/register.js']));
  });

  it('builds everything the image runs from src/ alone (the Dockerfile copies only src/ and prisma/)', () => {
    // dist/<x>.js of the CMD and worker command come from src/<x>.ts (tsconfig.build.json rootDir).
    for (const js of ['dist/telemetry/register.js', 'dist/api/main.js', 'dist/worker/main.js']) {
      expect(existsSync(rootPath(js.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'))), js).toBe(true);
    }
    const escapes: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir)) {
        const p = join(dir, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) {
          for (const m of readFileSync(p, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
            const target = resolve(dirname(p), m[1] ?? '');
            if (relative(rootPath('src'), target).startsWith('..')) escapes.push(`${relative(rootPath(), p)} -> ${m[1]}`);
          }
        }
      }
    };
    walk(rootPath('src'));
    expect(escapes, 'imports outside src/ would be missing from the image').toEqual([]);
    for (const copied of ['COPY package.json package-lock.json ./', 'COPY prisma ./prisma', 'COPY src ./src', 'COPY --from=build /app/dist ./dist']) {
      expect(readText('Dockerfile')).toContain(copied);
    }
    expect(readText('Dockerfile')).toMatch(/npm ci --omit=dev/);
    expect(readText('Dockerfile')).toMatch(/^USER node$/m);
  });

  it('keeps the build context to what the Dockerfile copies (.dockerignore allow-list, no .env, no node_modules)', () => {
    const lines = readText('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(lines[0], 'exclude everything first').toBe('*');
    const allowed = new Set(lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1)));
    const copied = [...readText('Dockerfile').matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => (m[1] ?? '').split(/\s+/));
    expect(copied.length).toBeGreaterThan(0);
    for (const c of copied) expect(allowed.has(c), `.dockerignore lets ${c} into the context`).toBe(true);
    for (const secret of ['.env', 'node_modules', 'dist', '.git']) expect(allowed.has(secret), secret).toBe(false);
  });

  it('runs the one-shot migration and the CRM emulator through npm scripts that exist', () => {
    expect([svc('db-migrate').command].flat()).toEqual(['npm', 'run', 'db:migrate']);
    expect([svc('crm-emulator').command].flat()).toEqual(['npm', 'run', 'start:crm-emulator']);
    expect(pkg.scripts['db:migrate'], 'package.json script db:migrate').toBeTruthy();
    expect(pkg.scripts['start:crm-emulator'], 'package.json script start:crm-emulator').toBeTruthy();
    expect(svc('db-migrate').restart).toBe('no');
  });

  it('points every instrumented process at the collector OTLP/HTTP receiver and names it a known service', () => {
    const instrumented = Object.entries(services).filter(([, s]) => envOf(s).OTEL_SERVICE_NAME);
    expect(instrumented.map(([n]) => n).sort()).toEqual([SERVICE_API, 'video-api-baseline', SERVICE_WORKER].sort());
    for (const [name, s] of instrumented) {
      const env = envOf(s);
      expect(SERVICES as readonly string[]).toContain(env.OTEL_SERVICE_NAME);
      expect(env.OTEL_EXPORTER_OTLP_ENDPOINT, name).toBe(STACK_OTLP_ENDPOINT);
      expect(env.OTEL_EXPORTER_OTLP_PROTOCOL, name).toBe('http/protobuf');
    }
    const [host, port] = hostPort(STACK_OTLP_ENDPOINT.replace('http://', ''));
    expect(services[host], `compose service ${host}`).toBeDefined();
    expect(portOf(collector.receivers.otlp.protocols.http?.endpoint ?? '')).toBe(port);
    expect(collector.receivers.otlp.protocols.http?.endpoint.startsWith('0.0.0.0:'), 'receiver listens beyond localhost').toBe(true);
  });

  it('listens on the ports stack.ts and DEFAULT_PORTS name, on all interfaces of the container', () => {
    const api = envOf(svc(SERVICE_API));
    expect(api.HOST).toBe('0.0.0.0');
    expect(Number(api.PORT)).toBe(DEFAULT_PORTS.api);
    expect(Number(api.METRICS_PORT)).toBe(DEFAULT_PORTS.apiMetrics);
    const worker = envOf(svc(SERVICE_WORKER));
    expect(worker.HOST).toBe('0.0.0.0');
    expect(Number(worker.METRICS_PORT)).toBe(DEFAULT_PORTS.workerMetrics);
    expect(envOf(svc('crm-emulator')).PORT).toBe(String(STACK.crmEmulator.port));
    expect(envOf(svc(SERVICE_API)).CRM_BASE_URL).toBe(`http://${STACK.crmEmulator.host}:${STACK.crmEmulator.port}`);
  });

  it('sets only environment variables that the code reads (a typo would be silently ignored)', () => {
    const sources: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir)) {
        const p = join(dir, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) sources.push(readFileSync(p, 'utf8'));
      }
    };
    walk(rootPath('src'));
    const code = sources.join('\n');
    // Read by the OpenTelemetry SDK itself (standard variables), not by our code.
    const sdkStandard = new Set(['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_METRICS_EXPORTER', 'OTEL_SDK_DISABLED', 'OTEL_SERVICE_NAME']);
    const unread: string[] = [];
    for (const name of [SERVICE_API, SERVICE_WORKER, 'video-api-baseline', 'db-migrate', 'crm-emulator', 'session-token']) {
      for (const key of Object.keys(envOf(svc(name)))) {
        if (sdkStandard.has(key)) continue;
        if (!code.includes(`'${key}'`) && !code.includes(`"${key}"`) && !code.includes(`env.${key}`)) unread.push(`${name}: ${key}`);
      }
    }
    expect(unread, `set in docker-compose.yml but read nowhere in src/:\n${unread.join('\n')}`).toEqual([]);
  });

  it('runs the overhead baseline from the same image with the SDK disabled', () => {
    const base = svc('video-api-baseline');
    expect(base.profiles).toEqual(['overhead']);
    expect(base.image).toBe(svc(SERVICE_API).image);
    expect(envOf(base).OTEL_SDK_DISABLED).toBe('true');
    expect(base.ports ?? [], 'the baseline is reached inside the compose network only').toEqual([]);
  });

  it('creates the bucket the service uses, with the lifecycle rule mounted into the init job', () => {
    expect(envOf(svc('minio-init')).S3_BUCKET).toBe(envOf(svc(SERVICE_API)).S3_BUCKET);
    expect(bindMounts(svc('minio-init'))).toEqual([{ source: './minio', target: '/init', readOnly: true }]);
    expect(readText('minio/init.sh')).toContain('/init/lifecycle.json');
    const lifecycle = JSON.parse(readText('minio/lifecycle.json')) as { Rules: { Status: string; AbortIncompleteMultipartUpload?: { DaysAfterInitiation: number } }[] };
    expect(lifecycle.Rules.some((r) => r.Status === 'Enabled' && (r.AbortIncompleteMultipartUpload?.DaysAfterInitiation ?? 0) >= 1)).toBe(true);
    expect(envOf(svc('minio')).MINIO_API_STALE_UPLOADS_EXPIRY).toBe('24h');
  });
});

describe('Prometheus in compose', () => {
  it('scrapes each process of the service on the metrics port it listens on, with job = service name', () => {
    expect(LABEL_JOB).toBe('job');
    expect(scrapeTargets(SERVICE_API)).toEqual([`${SERVICE_API}:${envOf(svc(SERVICE_API)).METRICS_PORT}`]);
    expect(scrapeTargets(SERVICE_WORKER)).toEqual([`${SERVICE_WORKER}:${envOf(svc(SERVICE_WORKER)).METRICS_PORT}`]);
  });

  it('scrapes itself, Alertmanager, Tempo, Loki and the collector on the ports their configs listen on', () => {
    expect(scrapeTargets('prometheus')).toEqual([`localhost:${STACK.prometheus.port}`]);
    expect(scrapeTargets('alertmanager')).toEqual([`${STACK.alertmanager.host}:${STACK.alertmanager.port}`]);
    expect(scrapeTargets('tempo')).toEqual([`${STACK.tempo.host}:${tempo.server.http_listen_port}`]);
    expect(scrapeTargets('loki')).toEqual([`${STACK.loki.host}:${loki.server.http_listen_port}`]);
    const reader = collector.service.telemetry.metrics.readers[0]?.pull.exporter.prometheus;
    expect(reader?.host).toBe('0.0.0.0');
    expect(scrapeTargets('otel-collector')).toEqual([`${STACK.otelCollector.host}:${reader?.port}`]);
    expect(reader?.port).toBe(STACK.otelCollector.metricsPort);
  });

  it('only scrapes hosts that are compose services of the default profile (a profile service would be a dead target)', () => {
    for (const c of prometheus.scrape_configs) {
      for (const t of c.static_configs.flatMap((s) => s.targets)) {
        const [host] = hostPort(t);
        if (host === 'localhost') continue;
        expect(services[host], `${c.job_name}: ${t}`).toBeDefined();
        expect(services[host]?.profiles, `${c.job_name}: ${host} is in a profile`).toBeUndefined();
      }
    }
  });

  it('sends alerts to the compose Alertmanager and loads the rule files compose mounts from alerts/generated', () => {
    expect(prometheus.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets))).toEqual([
      `${STACK.alertmanager.host}:${STACK.alertmanager.port}`,
    ]);
    const rulesMount = bindMounts(svc('prometheus')).find((m) => m.source === './alerts/generated');
    expect(rulesMount?.target).toBe('/etc/prometheus/rules');
    expect(prometheus.rule_files).toEqual(['rules/*.yml']);
  });

  it('scrapes every job the generated alert rules select on (a renamed job would silence them)', () => {
    const dir = requireFile('alerts/generated', PRODUCED_BY['./alerts/generated'] ?? '');
    const jobs = new Set(prometheus.scrape_configs.map((c) => c.job_name));
    const referenced = new Set<string>();
    for (const f of readdirSync(rootPath(dir)).filter((x) => x.endsWith('.yml'))) {
      for (const m of readText(`${dir}/${f}`).matchAll(/\bjob\s*(=~|=)\s*\\?"([^"\\]+)\\?"/g)) {
        for (const j of m[1] === '=~' ? (m[2] ?? '').split('|') : [m[2] ?? '']) referenced.add(j);
      }
    }
    expect(referenced.size, 'alert rules select on job').toBeGreaterThan(0);
    expect([...referenced].filter((j) => !jobs.has(j))).toEqual([]);
  });

  it('keeps the stack.ts scrape interval, exemplars, the remote-write receiver and SLO-period retention', () => {
    expect(prometheus.global.scrape_interval).toBe(STACK_SCRAPE_INTERVAL);
    const cmd = [svc('prometheus').command].flat();
    expect(cmd).toContain('--enable-feature=exemplar-storage');
    expect(cmd).toContain('--web.enable-remote-write-receiver');
    expect(cmd).toContain(`--storage.tsdb.retention.time=${SLO_PERIOD}`);
  });

  it('has k6 remote-write its results to that receiver', () => {
    const env = envOf(svc('k6'));
    expect(env.K6_OUT).toBe('experimental-prometheus-rw');
    expect(env.K6_PROMETHEUS_RW_SERVER_URL).toBe(`http://${STACK.prometheus.host}:${STACK.prometheus.port}/api/v1/write`);
    expect(svc('k6').profiles).toEqual(['load', 'overhead']);
  });
});

describe('retention', () => {
  it('keeps traces in Tempo and logs in Loki for the hours stack.ts states', () => {
    expect(hours(tempo.compactor.compaction.block_retention)).toBe(TRACE_RETENTION_HOURS);
    expect(hours(loki.limits_config.retention_period)).toBe(LOG_RETENTION_HOURS);
  });
});

describe('Grafana provisioning against compose', () => {
  it('loads dashboards from the directory compose mounts dashboards/generated into, with the service overview as home', () => {
    const mount = bindMounts(svc('grafana')).find((m) => m.source === './dashboards/generated');
    expect(mount?.target).toBe(STACK_GRAFANA_DASHBOARDS_DIR);
    const home = `${DASHBOARD_UIDS.overview}.json`;
    expect(envOf(svc('grafana')).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(`${STACK_GRAFANA_DASHBOARDS_DIR}/${home}`);
    const file = requireFile(`dashboards/generated/${home}`, PRODUCED_BY['./dashboards/generated'] ?? '');
    expect((JSON.parse(readText(file)) as { uid?: string }).uid).toBe(DASHBOARD_UIDS.overview);
  });

  it('has a dashboard provider that reads exactly that directory', () => {
    const dir = requireFile('grafana/provisioning/dashboards', PRODUCED_BY['./grafana/provisioning'] ?? '');
    const files = readdirSync(rootPath(dir)).filter((f) => /\.ya?ml$/.test(f));
    expect(files.length, `${dir} has no provider file`).toBeGreaterThan(0);
    const paths = files.flatMap((f) => readYaml<{ providers?: { options?: { path?: string } }[] }>(`${dir}/${f}`).providers ?? []).map((p) => p.options?.path);
    expect(paths).toContain(STACK_GRAFANA_DASHBOARDS_DIR);
    for (const p of paths) expect(p?.startsWith(STACK_GRAFANA_DASHBOARDS_DIR), `provider path ${p}`).toBe(true);
  });

  it('points the datasources with the fixed UIDs at compose services on the ports they listen on', () => {
    const dir = requireFile('grafana/provisioning/datasources', PRODUCED_BY['./grafana/provisioning'] ?? '');
    const datasources = readdirSync(rootPath(dir))
      .filter((f) => /\.ya?ml$/.test(f))
      .flatMap((f) => readYaml<{ datasources?: { uid?: string; url?: string; jsonData?: { timeInterval?: string } }[] }>(`${dir}/${f}`).datasources ?? []);
    // Grafana's minimum step for Prometheus is the scrape interval compose's Prometheus uses.
    expect(datasources.find((d) => d.uid === DATASOURCE_UIDS.prometheus)?.jsonData?.timeInterval).toBe(STACK_SCRAPE_INTERVAL);
    const expected: Record<string, { host: string; port: number }> = {
      [DATASOURCE_UIDS.prometheus]: STACK.prometheus,
      [DATASOURCE_UIDS.tempo]: { host: STACK.tempo.host, port: tempo.server.http_listen_port },
      [DATASOURCE_UIDS.loki]: { host: STACK.loki.host, port: loki.server.http_listen_port },
      [DATASOURCE_UIDS.alertmanager]: STACK.alertmanager,
    };
    for (const [uid, { host, port }] of Object.entries(expected)) {
      const ds = datasources.find((d) => d.uid === uid);
      expect(ds, `datasource uid ${uid}`).toBeDefined();
      const url = new URL(ds?.url ?? 'invalid://');
      expect(url.hostname, `${uid} url ${ds?.url}`).toBe(host);
      expect(Number(url.port), `${uid} url ${ds?.url}`).toBe(port);
      expect(services[host], `${uid}: compose service ${host}`).toBeDefined();
    }
  });
});

describe('traffic generators', () => {
  it('runs the synthetic traffic script and mounts the signals it imports at the same relative place', () => {
    const s = svc('synthetic');
    const script = [s.command].flat().find((a) => a?.endsWith('.ts'));
    expect(script).toBe('load-tests/synthetic.ts');
    requireFile('load-tests/synthetic.ts', PRODUCED_BY['./load-tests'] ?? '');
    for (const name of ['synthetic', 'k6']) {
      const targets = bindMounts(svc(name)).map((m) => `${m.source}=${m.target}`);
      expect(targets).toEqual(['./load-tests=/work/load-tests', './src/signals=/work/src/signals']);
      expect(svc(name).working_dir).toBe('/work');
      expect(envOf(svc(name)).API_URL).toBe(`http://${SERVICE_API}:${DEFAULT_PORTS.api}`);
      // SESSION_TOKEN comes from the token job's file, signed with the service's SESSION_SECRET.
      expect([svc(name).entrypoint].flat().join(' ')).toContain('SESSION_TOKEN=$(cat /tokens/session-token)');
      expect(Object.keys(svc(name).depends_on ?? {})).toContain('session-token');
    }
  });
});
