// Live query check: the real video-api and video-worker (child processes with telemetry preloaded,
// exporting OTLP to a local receiver) against real s3rver, Redis, PostgreSQL (migrated) and the
// CRM emulator, scraped every second by a real Prometheus that loads the generated rules. A short
// load drives every route and outcome (200/201/206/302/401/403/404/413/416 and 5xx through
// FAULT_ERROR_RATIO, thumbnail jobs that complete and that fail, the database-backed video list,
// CRM webhooks accepted / with a bad signature / malformed, and CRM calls that are retried and
// that fail for good while the emulator answers 503); then every PromQL expression of every
// generated panel and rule must evaluate and return at least one series, except those listed in
// dashboards/pending.ts.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRuleFiles, type AlertingRule, type RecordingRule } from '../alerts/index.ts';
import { PENDING_QUERIES, pendingReason } from '../dashboards/pending.ts';
import { queriesOf, substitute, type DashboardJson, type PanelQuery } from '../dashboards/queries.ts';
import { DATASOURCE_UIDS } from '../dashboards/uids.ts';
import {
  CRM_SIGNATURE_HEADER,
  CRM_RETRY,
  HTTP_SERVER_DURATION,
  LABEL_ENVIRONMENT,
  LABEL_SERVICE,
  QUEUE_JOB_DURATION,
  REALTIME_PATH,
  ROUTES,
  RT_SUBSCRIBE,
  SERVICE_API,
  SERVICE_WORKER,
} from '../src/signals/index.ts';
import { ROOT } from '../scripts/generate.ts';
import { signWebhook } from '../src/api/routes/webhooks.ts';
import type { VideoListBody } from '../src/api/routes/video-list.ts';
import type { CrmEmulator } from '../src/crm-emulator/server.ts';
import { migrate } from '../src/db/migrate.ts';
import { fakeVideo, startApp, type StartedApp } from './harness/app.ts';
import { startTestCrm, TEST_CRM_CREDENTIALS } from './harness/crm-emulator.ts';
import { makeTestVideo } from './harness/ffmpeg.ts';
import { startOtlpReceiver, type OtlpReceiver } from './harness/otlp-receiver.ts';
import { startPostgres, type PostgresHandle } from './harness/postgres.ts';
import { freePort, startProcess, tempDir, waitFor, waitForPort, type Started } from './harness/process.ts';
import { startPrometheus, type PrometheusHandle } from './harness/prometheus.ts';

const ENV = 'development';
const VARS = { [LABEL_ENVIRONMENT]: ENV, [LABEL_SERVICE]: SERVICE_API, span_event: 'video.range_request', testid: 'none' };
const UPLOAD_LIMIT = 2_000_000;
const LOAD_SECONDS = 8;
const WEBHOOK_SECRET = 'live-queries-webhook-secret';
/**
 * 503s the CRM emulator answers to contact upserts: the first upsert exhausts all its attempts
 * (a CRM failure, webhook 502), the next one is retried twice and succeeds.
 */
const CRM_FAILING_CALLS = CRM_RETRY.maxAttempts + 2;

let otlp: OtlpReceiver;
let app: StartedApp;
let worker: Started | undefined;
let prom: PrometheusHandle;
let pg: PostgresHandle | undefined;
let crm: CrmEmulator | undefined;
const tmp = tempDir('live-queries');
const dashboards: DashboardJson[] = readdirSync(join(ROOT, 'dashboards/generated')).map(
  (f) => JSON.parse(readFileSync(join(ROOT, 'dashboards/generated', f), 'utf8')) as DashboardJson,
);
const statuses = new Map<number, number>();
/** Statuses of the database routes alone: `<route> <status>` -> count. */
const dbRouteStatuses = new Map<string, number>();

async function req(path: string, init: RequestInit & { token?: string } = {}): Promise<Response | undefined> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  try {
    const res = await fetch(`${app.url}${path}`, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    await res.arrayBuffer();
    return res;
  } catch {
    return undefined; // e.g. the server closing an over-limit upload early
  }
}

/** Uploads until one succeeds (fault injection fails some), bounded. */
async function upload(body: Buffer, filename: string, visibility: string, token: string): Promise<string> {
  for (let i = 0; i < 10; i++) {
    const res = await fetch(`${app.url}/api/upload/stream?filename=${filename}&visibility=${visibility}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
      body,
    });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status === 201) return ((await res.json()) as { url: string }).url;
    await res.arrayBuffer();
  }
  throw new Error(`upload of ${filename} never succeeded; statuses ${JSON.stringify([...statuses])}`);
}

/** One CRM webhook: signed correctly, signed wrongly, or signed but not JSON. */
async function webhook(kind: 'valid' | 'bad_signature' | 'malformed', n: number): Promise<void> {
  const body = kind === 'malformed' ? '{"type": "ContactCreate", "email":' : JSON.stringify({ type: 'ContactCreate', email: `user${n}@example.com`, name: `User ${n}` });
  const signature = kind === 'bad_signature' ? signWebhook(body, 'not-the-secret') : signWebhook(body, WEBHOOK_SECRET);
  const res = await req(ROUTES.crmWebhook, { method: 'POST', headers: { 'content-type': 'application/json', [CRM_SIGNATURE_HEADER]: signature }, body });
  if (res) dbRouteStatuses.set(`webhook ${kind} ${res.status}`, (dbRouteStatuses.get(`webhook ${kind} ${res.status}`) ?? 0) + 1);
}

/** Most thumbnails seen on one listed video (the worker records them in PostgreSQL). */
let listedThumbnails = 0;

async function listVideos(token?: string): Promise<void> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const res = await fetch(`${app.url}${ROUTES.videoList}?limit=5`, { headers, signal: AbortSignal.timeout(15_000) }).catch(() => undefined);
  if (!res) return;
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  dbRouteStatuses.set(`list ${res.status}`, (dbRouteStatuses.get(`list ${res.status}`) ?? 0) + 1);
  if (res.status !== 200) return void (await res.arrayBuffer());
  const body = (await res.json()) as VideoListBody;
  for (const v of body.videos) listedThumbnails = Math.max(listedThumbnails, v.thumbnails.length);
}

async function driveLoad(): Promise<void> {
  const alice = app.token('alice');
  const bob = app.token('bob');
  const real = readFileSync(makeTestVideo(tmp.path).path);
  const privateUrl = await upload(real, 'real.mp4', 'private', alice);
  const publicUrl = await upload(fakeVideo(300_000), 'fake.mp4', 'public', alice);
  // Realtime: one accepted client that subscribes to its video, one rejected handshake.
  const videoId = (privateUrl.split('/').pop() ?? '').replace(/\.[^.]+$/, '');
  const client = io(app.url, { path: REALTIME_PATH, auth: { token: alice }, transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('connect_error', reject);
  });
  await client.timeout(5000).emitWithAck(RT_SUBSCRIBE, { videoId });
  const rejected = io(app.url, { path: REALTIME_PATH, auth: { token: 'not-a-token' }, transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve) => rejected.once('connect_error', () => resolve()));
  rejected.close();
  // The CRM fails the next upserts: one webhook's CRM call fails for good, the next is retried.
  crm?.control({ mode: '503', count: CRM_FAILING_CALLS, endpoint: 'upsertContact' });
  const deadline = Date.now() + LOAD_SECONDS * 1000;
  for (let i = 0; Date.now() < deadline; i++) {
    await Promise.all([
      webhook('valid', i), // 200, or 502 while the CRM fails
      webhook('bad_signature', i), // 401
      webhook('malformed', i), // 400
      listVideos(alice), // 200
      listVideos(), // 401
      req(`${privateUrl}?delivery=stream`, { token: alice }), // 200
      req(`${privateUrl}?delivery=stream`, { token: alice, headers: { range: 'bytes=0-1023' } }), // 206
      req(`${publicUrl}?delivery=stream`, { token: bob, headers: { range: 'bytes=900000000-900000010' } }), // 416
      req(`${privateUrl}?delivery=redirect`, { token: alice }), // 302
      req(`${privateUrl}?delivery=stream`), // 401
      req(`${privateUrl}?delivery=stream`, { token: bob }), // 403
      req('/api/videos/does-not-exist.mp4?delivery=stream', { token: alice }), // 404
      req('/api/upload/stream?filename=big.mp4', {
        method: 'POST',
        token: alice,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(UPLOAD_LIMIT + 1) },
        body: Buffer.alloc(UPLOAD_LIMIT + 1),
      }), // 413
      req('/api/upload/stream?filename=anon.mp4', { method: 'POST', body: Buffer.alloc(10) }), // 401
      req('/healthz'),
      req('/readyz'),
    ]);
  }
  // A thumbnail job that cannot succeed (not a video): retried, then failed for good.
  await upload(fakeVideo(200_000), 'broken.mp4', 'private', alice);
  realtimeClient = client;
}
let realtimeClient: ReturnType<typeof io> | undefined;

function hostPort(url: string): string {
  return new URL(url).host;
}

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  pg = await startPostgres();
  const databaseUrl = await pg.createDatabase('live_queries');
  await migrate(databaseUrl);
  crm = await startTestCrm();
  const telemetryEnv = {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
    OTEL_METRICS_EXPORTER: 'none',
    DEPLOYMENT_ENVIRONMENT: ENV,
    DATABASE_URL: databaseUrl,
  };
  app = await startApp({
    mode: 'process',
    env: {
      ...telemetryEnv,
      FAULT_ERROR_RATIO: '0.15',
      UPLOAD_MAX_BYTES: String(UPLOAD_LIMIT),
      CRM_BASE_URL: crm.url,
      CRM_CLIENT_ID: TEST_CRM_CREDENTIALS.clientId,
      CRM_CLIENT_SECRET: TEST_CRM_CREDENTIALS.clientSecret,
      CRM_WEBHOOK_SECRET: WEBHOOK_SECRET,
    },
  });
  const workerMetricsPort = await freePort();
  worker = startProcess(process.execPath, ['--import', join(ROOT, 'src/telemetry/register.ts'), join(ROOT, 'src/worker/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...telemetryEnv,
      OTEL_SERVICE_NAME: SERVICE_WORKER,
      LOG_LEVEL: 'warn',
      METRICS_PORT: String(workerMetricsPort),
      METRICS_HOST: '127.0.0.1',
      REDIS_URL: app.redis.url,
      S3_ENDPOINT: app.s3.endpoint,
      S3_BUCKET: app.s3.bucket,
      S3_REGION: app.s3.region,
      AWS_ACCESS_KEY_ID: app.s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: app.s3.secretAccessKey,
      WORKER_TMP_DIR: tmp.path,
    },
  });
  await waitForPort(workerMetricsPort, 30_000, worker.proc).catch((err: Error) => {
    throw new Error(`video-worker did not start: ${err.message}\n${worker?.output()}`);
  });
  const ruleDir = join(ROOT, 'alerts/generated');
  prom = await startPrometheus({
    targets: [
      { job: SERVICE_API, target: hostPort(app.metricsUrl as string) },
      { job: SERVICE_WORKER, target: `127.0.0.1:${workerMetricsPort}` },
    ],
    ruleFiles: readdirSync(ruleDir).map((f) => join(ruleDir, f)),
    scrapeInterval: '1s',
  });
  await waitFor(async () => (await prom.query('sum(up)'))[0]?.value[1] === '2', 20_000, 'both targets up in Prometheus');
  await driveLoad();
  // The broken job fails for good after its retries (backoff 2 s, 4 s).
  await waitFor(
    async () => (await prom.query(`${QUEUE_JOB_DURATION}_count{outcome="failed"}`)).length > 0,
    40_000,
    'a thumbnail job that failed for good',
  ).catch(() => undefined);
  // By now the real video's thumbnail is recorded: the list shows it.
  await listVideos(app.token('alice'));
  // Two more scrapes and rule evaluations after the last request.
  await new Promise((r) => setTimeout(r, 3000));
}, 180_000);

afterAll(async () => {
  realtimeClient?.close();
  await prom?.stop();
  await worker?.stop();
  await app?.stop();
  await crm?.stop();
  await pg?.stop();
  await otlp?.stop();
  tmp.cleanup();
});

/** Queries one expression; returns the series count, or the error text. */
async function seriesCount(expr: string): Promise<number | string> {
  try {
    return (await prom.query(expr)).length;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The value part of an alert expression: threshold comparisons removed, so it returns data whenever there is traffic. */
function alertValueExpr(expr: string): string {
  return expr.replace(/ > -?[0-9.]+(e[+-]?\d+)?$/gm, '').replace(/ == 0,/g, ',');
}

describe('live queries against the real service', () => {
  it('drove every outcome: 200, 201, 206, 302, 401, 403, 404, 413, 416 and injected 5xx', () => {
    for (const s of [200, 201, 206, 302, 401, 403, 404, 413, 416, 500]) expect(statuses.get(s) ?? 0, `status ${s} in ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
  });

  it('drove the database routes: webhooks accepted (200), with a bad signature (401), malformed (400), failed at the CRM (502); video list 200 and 401', () => {
    expect(listedThumbnails, 'thumbnails the worker recorded, as GET /api/videos lists them').toBeGreaterThan(0);
    const seen = JSON.stringify([...dbRouteStatuses]);
    for (const key of ['webhook valid 200', 'webhook valid 502', 'webhook bad_signature 401', 'webhook malformed 400', 'list 200', 'list 401']) {
      expect(dbRouteStatuses.get(key) ?? 0, `${key} in ${seen}`).toBeGreaterThan(0);
    }
    const stats = crm?.stats();
    // Every 503 was answered (retried or given up on), and the CRM saw successful upserts after them.
    expect(stats?.log.filter((c) => c.endpoint === 'upsertContact' && c.status === 503).length).toBe(CRM_FAILING_CALLS);
    expect(stats?.log.filter((c) => c.endpoint === 'upsertContact' && c.status >= 200 && c.status < 300).length).toBeGreaterThan(0);
  });

  it('returns at least one series for every PromQL query of every dashboard panel (pending ones listed with a reason)', async () => {
    const prometheusQueries = dashboards.flatMap(queriesOf).filter((q) => q.datasource === DATASOURCE_UIDS.prometheus);
    expect(prometheusQueries.length).toBeGreaterThan(40);
    const empty: string[] = [];
    const stale: string[] = [];
    const pending: string[] = [];
    for (const q of prometheusQueries) {
      const expr = substitute(q.expr, VARS, '1m');
      const n = await seriesCount(expr);
      const reason = pendingReason(expr);
      const where = `${q.dashboard} / ${q.panel}: ${expr}`;
      if (typeof n === 'string') empty.push(`${where}\n  -> error: ${n}`);
      else if (reason && n > 0) stale.push(`${where}\n  -> returns ${n} series but is listed as pending (${reason}): remove it from dashboards/pending.ts`);
      else if (reason) pending.push(`${q.dashboard} / ${q.panel} (${reason})`);
      else if (n === 0) empty.push(`${where}\n  -> no series`);
    }
    console.log(`dashboard queries: ${prometheusQueries.length}, pending: ${pending.length}\n  ${pending.join('\n  ')}`);
    expect(empty, empty.join('\n')).toEqual([]);
    expect(stale, stale.join('\n')).toEqual([]);
  });

  it('returns at least one series for every recording rule and every alert expression (thresholds lifted)', async () => {
    const rules = defaultRuleFiles().flatMap((f) => f.groups.flatMap((g) => g.rules));
    const failures: string[] = [];
    for (const r of rules) {
      const isAlert = 'alert' in r;
      const name = isAlert ? (r as AlertingRule).alert : (r as RecordingRule).record;
      const expr = isAlert ? alertValueExpr(r.expr) : r.expr;
      const reason = pendingReason(expr);
      if (expr.startsWith('absent(')) {
        // absent() is empty while the target exists: it must evaluate, and be empty here.
        const n = await seriesCount(expr);
        if (n !== 0) failures.push(`${name}: ${expr} -> ${n} (expected no series: both targets exist)`);
        continue;
      }
      const checks = isAlert ? [expr] : [expr, name];
      for (const e of checks) {
        const n = await seriesCount(e);
        if (typeof n === 'string') failures.push(`${name}: ${e} -> error ${n}`);
        else if (reason && n > 0) failures.push(`${name}: ${e} -> ${n} series but listed as pending (${reason})`);
        else if (!reason && n === 0) failures.push(`${name}: ${e} -> no series`);
      }
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('lists every pending entry with a reason', () => {
    for (const p of PENDING_QUERIES) {
      expect(p.match.length).toBeGreaterThan(3);
      expect(p.reason.length).toBeGreaterThan(20);
    }
  });

  it('stores exemplars on the latency histogram whose trace ids are spans the service exported in this run', async () => {
    const ex = await prom.queryExemplars(`${HTTP_SERVER_DURATION}_bucket{${LABEL_SERVICE}="${SERVICE_API}"}`, 600);
    const traceIds = [...new Set(ex.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id ?? '')))].filter(Boolean);
    expect(traceIds.length, 'exemplar trace ids').toBeGreaterThan(0);
    await otlp.waitFor(() => traceIds.every((id) => otlp.spans.some((s) => s.traceId === id)), 15_000, 'exemplar traces exported').catch(() => undefined);
    const exported = new Set(otlp.spans.map((s) => s.traceId));
    const missing = traceIds.filter((id) => !exported.has(id));
    console.log(`exemplar trace ids: ${traceIds.length}, found in exported spans: ${traceIds.length - missing.length}`);
    expect(missing).toEqual([]);
  });

  it('uses only Loki labels the exported logs carry, and only span attributes and events the exported spans carry', () => {
    const all: PanelQuery[] = dashboards.flatMap(queriesOf);
    // Loki's OTLP ingestion: resource attributes service.name / deployment.environment become
    // labels with underscores; trace_id / span_id and log attributes become structured metadata.
    const logLabels = new Set<string>();
    for (const l of otlp.logs) {
      for (const k of Object.keys(l.resource)) logLabels.add(k.replaceAll('.', '_'));
      for (const k of Object.keys(l.attributes)) logLabels.add(k.replaceAll('.', '_'));
      if (l.traceId) logLabels.add('trace_id');
      if (l.spanId) logLabels.add('span_id');
    }
    expect(otlp.logs.length, 'log records exported').toBeGreaterThan(0);
    for (const q of all.filter((x) => x.datasource === DATASOURCE_UIDS.loki)) {
      const expr = substitute(q.expr, VARS, '1m');
      const selector = /\{([^}]*)\}/.exec(expr)?.[1] ?? '';
      const used = [...selector.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g), ...expr.matchAll(/\|\s*(\w+)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1] as string);
      expect(used.length, `${q.dashboard} / ${q.panel}`).toBeGreaterThan(0);
      for (const label of used) expect([...logLabels], `${q.dashboard} / ${q.panel}: label ${label}`).toContain(label);
    }
    const spanAttrs = new Set(otlp.spans.flatMap((s) => Object.keys(s.attributes)));
    const resourceAttrs = new Set(otlp.spans.flatMap((s) => Object.keys(s.resource)));
    const events = new Set(otlp.spans.flatMap((s) => s.events.map((e) => e.name)));
    for (const q of all.filter((x) => x.datasource === DATASOURCE_UIDS.tempo)) {
      const expr = substitute(q.expr, VARS, '1m');
      for (const m of expr.matchAll(/\b(resource|span)\.([\w.]+)/g)) {
        const set = m[1] === 'resource' ? resourceAttrs : spanAttrs;
        expect([...set], `${q.dashboard} / ${q.panel}: ${m[0]}`).toContain(m[2]);
      }
      for (const m of expr.matchAll(/event:name = "([^"]+)"/g)) expect([...events], `${q.dashboard} / ${q.panel}: event ${m[1]}`).toContain(m[1]);
    }
  });
});
