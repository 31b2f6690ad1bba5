// The preloaded bootstrap (node --import src/telemetry/register.ts) in real child processes:
// OTLP export received and decoded by a real local receiver, SIGTERM flush, a refusing
// collector, OTEL_SDK_DISABLED=true, and winston log correlation.
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startProcess, tempDir, waitFor, type Started } from './harness/process.ts';
import { startOtlpReceiver, type OtlpReceiver } from './harness/otlp-receiver.ts';

const root = resolve(import.meta.dirname, '..');
const register = resolve(root, 'src/telemetry/register.ts');

// The child app: a Fastify route instrumented by instrumentFastify, a pino log line with a
// presigned URL inside the handler's span, close hooks, and a metrics endpoint.
const APP = `
import Fastify from 'fastify';
import { instrumentFastify, createLogger, traceAsync, addSpanEvent, onShutdown, startMetricsServer } from './src/telemetry/index.ts';
const log = createLogger('child-app');
const app = Fastify();
instrumentFastify(app);
app.get('/api/videos/:filename', async (req) => traceAsync('api.videos.stream', async () => {
  addSpanEvent('video.s3_redirect', { s3Key: 'videos/' + req.params.filename, url: 'http://s3/b/k?X-Amz-Signature=SIGSECRET&X-Amz-Credential=CREDSECRET' });
  log.info({ filename: req.params.filename, presigned: 'http://s3/b/k?X-Amz-Signature=SIGSECRET' }, 'serving video');
  return { ok: true };
}));
const metrics = await startMetricsServer(0);
onShutdown(() => { console.log(JSON.stringify({ hook: 'closed' })); return app.close(); });
onShutdown(() => metrics.close());
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(JSON.stringify({ port: app.server.address().port, metrics: metrics.url }));
`;

interface Child {
  proc: Started;
  port: number;
  metrics: string;
}

async function startChild(env: Record<string, string>, code = APP, preload = register): Promise<Child> {
  const proc = startProcess(process.execPath, ['--import', preload, '--input-type=module', '--eval', code], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, OTEL_SERVICE_NAME: 'video-api', DEPLOYMENT_ENVIRONMENT: 'development', ...env },
  });
  let info: { port: number; metrics: string } | undefined;
  await waitFor(
    () => {
      const line = proc.output().split('\n').find((l) => l.startsWith('{"port"'));
      if (line) info = JSON.parse(line) as { port: number; metrics: string };
      return info !== undefined || proc.proc.exitCode !== null;
    },
    20_000,
    'the child app to listen',
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${proc.output()}`);
  });
  if (!info) throw new Error(`child exited before listening:\n${proc.output()}`);
  return { proc, port: info!.port, metrics: info!.metrics };
}

function exitOf(c: Child): Promise<number | null> {
  return new Promise((r) => {
    if (c.proc.proc.exitCode !== null) return r(c.proc.proc.exitCode);
    c.proc.proc.once('exit', (code) => r(code));
  });
}

let receiver: OtlpReceiver;
const children: Child[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  for (const c of children) await c.proc.stop();
  await receiver.stop();
});
beforeEach(() => {
  receiver.reset();
  receiver.setStatus(200);
});

describe('register.ts bootstrap', () => {
  it('exports spans and logs by OTLP/protobuf with service.name, trace context and no secrets, and flushes on SIGTERM before exiting 0', async () => {
    const child = await startChild({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
    children.push(child);
    const res = await fetch(`http://127.0.0.1:${child.port}/api/videos/cat.mp4`);
    expect(res.status).toBe(200);
    const traceresponse = res.headers.get('traceresponse') ?? '';
    const traceId = traceresponse.split('-')[1];
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    // SIGTERM right away, well before the batch processor's scheduled export: the spans only
    // reach the receiver because shutdown flushes them.
    child.proc.proc.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    expect(child.proc.output()).toContain('{"hook":"closed"}');

    const server = receiver.spans.find((s) => s.name === 'GET /api/videos/:filename');
    const inner = receiver.spans.find((s) => s.name === 'api.videos.stream');
    expect(server, JSON.stringify(receiver.requests)).toBeDefined();
    expect(server!.traceId).toBe(traceId);
    expect(server!.kind).toBe(2); // SPAN_KIND_SERVER
    expect(server!.resource['service.name']).toBe('video-api');
    expect(server!.resource['deployment.environment.name']).toBe('development');
    expect(inner!.parentSpanId).toBe(server!.spanId);
    expect(inner!.events.map((e) => e.name)).toContain('video.s3_redirect');

    const line = receiver.logs.find((l) => l.body === 'serving video');
    expect(line).toBeDefined();
    expect(line!.traceId).toBe(traceId);
    expect(line!.spanId).toBe(inner!.spanId);
    expect(line!.severityText).toBe('INFO');
    expect(line!.resource['service.name']).toBe('video-api');
    expect(line!.attributes.filename).toBe('cat.mp4');

    const exported = JSON.stringify([receiver.spans, receiver.logs], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    expect(exported).not.toContain('SIGSECRET');
    expect(exported).not.toContain('CREDSECRET');
    expect(exported).toContain('X-Amz-Signature=[REDACTED]');
    // stdout (the JSON log line) carries the trace id and no secret either.
    const stdoutLine = child.proc.output().split('\n').find((l) => l.includes('serving video'));
    expect(stdoutLine).toContain(`"trace_id":"${traceId}"`);
    expect(stdoutLine).not.toContain('SIGSECRET');
  });

  it('keeps serving fast while the OTLP endpoint refuses connections, and counts the failed exports', async () => {
    // A port nothing listens on: every export is refused.
    const dead = await startOtlpReceiver();
    const deadEndpoint = dead.endpoint;
    await dead.stop();
    const child = await startChild({ OTEL_EXPORTER_OTLP_ENDPOINT: deadEndpoint, OTEL_EXPORTER_OTLP_TIMEOUT: '3000', OTEL_TRACES_SAMPLER: 'always_on' });
    children.push(child);
    const latencies: number[] = [];
    const deadline = Date.now() + 15_000;
    for (let i = 0; i < 300 && Date.now() < deadline; i++) {
      const t = performance.now();
      const r = await fetch(`http://127.0.0.1:${child.port}/api/videos/v${i % 5}.mp4`);
      await r.arrayBuffer();
      expect(r.status).toBe(200);
      latencies.push(performance.now() - t);
    }
    expect(latencies.length).toBe(300);
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
    console.log(`refusing collector: ${latencies.length} requests, p50 ${latencies[150]!.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${latencies[latencies.length - 1]!.toFixed(2)} ms`);
    // Export runs off the request path: no request ever waits for the exporter (which spends up
    // to OTEL_EXPORTER_OTLP_TIMEOUT = 3 s retrying), and typical latency stays in milliseconds.
    expect(latencies[latencies.length - 1]!).toBeLessThan(3000);
    expect(latencies[150]!).toBeLessThan(50);
    // The batch exporter tries within SPAN_BATCH.scheduledDelayMillis; the failure is counted.
    let metrics = '';
    await waitFor(
      async () => {
        metrics = await (await fetch(child.metrics)).text();
        return /otel_span_export_errors_total\{[^}]*\} [1-9]/.test(metrics);
      },
      20_000,
      'a counted export error',
    );
    expect(metrics).toMatch(/otel_spans_dropped_total\{[^}]*\} [1-9]/);
    expect(metrics).toMatch(/http_server_request_duration_seconds_count\{[^}]*http_route="\/api\/videos\/:filename"[^}]*\} 300/);
    child.proc.proc.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  });

  it('with OTEL_SDK_DISABLED=true registers nothing: no spans, no trace headers, no request metric', async () => {
    const child = await startChild({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SDK_DISABLED: 'true' });
    children.push(child);
    const res = await fetch(`http://127.0.0.1:${child.port}/api/videos/cat.mp4`);
    expect(res.status).toBe(200);
    expect(res.headers.get('traceresponse')).toBeNull();
    expect(res.headers.get('server-timing')).toBeNull();
    const metrics = await (await fetch(child.metrics)).text();
    expect(metrics).not.toContain('http_server_request_duration_seconds');
    const stdoutLine = child.proc.output().split('\n').find((l) => l.includes('serving video'));
    expect(stdoutLine).toBeDefined();
    expect(stdoutLine).not.toContain('trace_id');
    // Graceful stop is the same as with telemetry: close hooks run, exit code 0.
    child.proc.proc.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    expect(child.proc.output()).toContain('{"hook":"closed"}');
    expect(receiver.requests).toEqual([]);
  });

  it('gives a winston-based app trace_id and span_id on log records inside a span (and OTEL_LOG_LEVEL shows SDK diagnostics)', async () => {
    const code = `
import winston from 'winston';
import { trace } from '@opentelemetry/api';
const out = [];
const logger = winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.Console()] });
await trace.getTracer('adopter').startActiveSpan('adopter.work', async (span) => {
  logger.info('inside a span');
  console.log(JSON.stringify({ port: 0, metrics: '', expected: span.spanContext() }));
  span.end();
});
`;
    const child = await startChild({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_LOGS_EXPORTER: 'none', OTEL_LOG_LEVEL: 'debug' }, code);
    children.push(child);
    const out = child.proc.output();
    const expected = (JSON.parse(out.split('\n').find((l) => l.startsWith('{"port"'))!) as { expected: { traceId: string; spanId: string } }).expected;
    const line = out.split('\n').find((l) => l.includes('inside a span'));
    expect(line, out).toBeDefined();
    const rec = JSON.parse(line!) as Record<string, string>;
    expect(rec.trace_id).toBe(expected.traceId);
    expect(rec.span_id).toBe(expected.spanId);
    // OTEL_LOG_LEVEL=debug turned the SDK's diagnostic logger on.
    expect(out).toContain('telemetry started: service=video-api environment=development');
    child.proc.proc.kill('SIGTERM');
    await exitOf(child);
  });

  it('flushes pending spans when a process ends on its own (beforeExit), not only on signals', async () => {
    const code = `
import { traceAsync } from './src/telemetry/index.ts';
await traceAsync('script.run', async () => undefined);
`;
    const proc = startProcess(process.execPath, ['--import', register, '--input-type=module', '--eval', code], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, OTEL_SERVICE_NAME: 'video-worker', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
    });
    const exit = await new Promise<number | null>((r) => proc.proc.once('exit', (c) => r(c)));
    expect(exit, proc.output()).toBe(0);
    expect(receiver.spans.map((s) => s.name)).toEqual(['script.run']);
  });

  it('works compiled to JavaScript (node --import dist/telemetry/register.js), as npm start runs it', async () => {
    // Emit only the telemetry layer and the signals it imports (per-file transpilation with the
    // project's emit options; `npm run typecheck` type-checks) into a temp dir with node_modules
    // linked, so this does not depend on other folders of src/ that may be mid-edit.
    const dir = tempDir('telemetry-dist');
    try {
      const out = join(dir.path, 'dist');
      symlinkSync(join(root, 'node_modules'), join(dir.path, 'node_modules'), 'dir');
      writeFileSync(join(dir.path, 'package.json'), '{"type":"module"}');
      for (const folder of ['telemetry', 'signals']) {
        mkdirSync(join(out, folder), { recursive: true });
        for (const f of readdirSync(join(root, 'src', folder)).filter((n) => n.endsWith('.ts'))) {
          const js = ts.transpileModule(readFileSync(join(root, 'src', folder, f), 'utf8'), {
            fileName: f,
            compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2023, rewriteRelativeImportExtensions: true, verbatimModuleSyntax: true },
          });
          writeFileSync(join(out, folder, f.replace(/\.ts$/, '.js')), js.outputText);
        }
      }
      const code = APP.replace("'./src/telemetry/index.ts'", JSON.stringify(join(out, 'telemetry/index.js')));
      const child = await startChild({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint }, code, join(out, 'telemetry/register.js'));
      children.push(child);
      const res = await fetch(`http://127.0.0.1:${child.port}/api/videos/dist.mp4`);
      expect(res.status).toBe(200);
      child.proc.proc.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
      const server = receiver.spans.find((s) => s.name === 'GET /api/videos/:filename');
      expect(server?.resource['service.name']).toBe('video-api');
      expect(server?.traceId).toBe(res.headers.get('traceresponse')?.split('-')[1]);
    } finally {
      dir.cleanup();
    }
  });
});
