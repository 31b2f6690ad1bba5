// instrumentFastify: server spans by route template, parent/child, status, trace response headers,
// the request-duration histogram with exemplars, and redaction of URLs and headers.
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { connect } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HTTP_SERVER_DURATION, ROUTES, UNMATCHED_ROUTE } from '../src/signals/index.ts';
import { instrumentFastify, setRouteClass, TRACE_EXPOSED_HEADERS } from '../src/telemetry/http-server.ts';
import { registry } from '../src/telemetry/metrics.ts';
import { traceAsync } from '../src/telemetry/trace.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';

let tel: TestTelemetry;
let app: FastifyInstance;
let base: string;
const routeValidation = new Map<string, unknown>();

beforeAll(async () => {
  tel = await startTestTelemetry('video-api');
  app = Fastify();
  instrumentFastify(app, { critical: (req) => req.headers['x-test-critical'] === '1' });
  // Registered after instrumentFastify's own onRoute hook: sees the route options it changed.
  app.addHook('onRoute', (route) => {
    routeValidation.set(`${String(route.method)} ${route.url}`, route.preValidation);
  });
  app.get(ROUTES.videoStream, { config: { routeClass: 'stream' } }, async (req) => {
    const { filename } = req.params as { filename: string };
    if ((req.query as { delivery?: string }).delivery === 'redirect') setRouteClass(req, 'redirect');
    return traceAsync('api.videos.stream', async () => ({ filename, active: trace.getActiveSpan()?.spanContext().spanId }));
  });
  app.post(ROUTES.uploadStream, { config: { routeClass: 'upload' } }, async (req) => {
    // After body parsing the handler must still run in the request's context.
    return traceAsync('upload.child', async () => ({ size: JSON.stringify(req.body).length }));
  });
  // A body route with its own preValidation hooks: they and the handler run in the request's
  // context once the body (read from the socket) is parsed.
  app.put(
    '/body-hooks',
    {
      preValidation: [
        async (req) => {
          (req as unknown as { hookSpan?: string }).hookSpan = trace.getActiveSpan()?.spanContext().spanId;
        },
      ],
    },
    async (req) =>
      traceAsync('body.child', async () => ({
        hookSpan: (req as unknown as { hookSpan?: string }).hookSpan,
        size: JSON.stringify(req.body).length,
      })),
  );
  app.get('/boom', async () => {
    throw new Error('exploded with X-Amz-Signature=deadbeef');
  });
  app.get('/forbidden', async (_req, reply) => reply.code(403).send({ error: 'forbidden' }));
  // Answers after 300 ms: long enough for the client to give up first.
  app.get('/slow', async () => new Promise((r) => setTimeout(() => r({ late: true }), 300)));
  // Most tests inject; the body and abort tests need a real socket.
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  await tel.shutdown();
});

beforeEach(() => tel.reset());

function serverSpans() {
  return tel.spans().filter((s) => s.kind === SpanKind.SERVER);
}

describe('instrumentFastify', () => {
  it('names the server span by method and route template, with semconv attributes and no secrets', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/api/videos/cat.mp4?X-Amz-Signature=abc123secret&X-Amz-Credential=AKIAXXX%2F2026',
      headers: { 'user-agent': 'vitest', authorization: 'Bearer sekrit.token.value', cookie: 'session=sekritcookie' },
    });
    expect(res.statusCode).toBe(200);
    const [span] = serverSpans();
    expect(span?.name).toBe('GET /api/videos/:filename');
    expect(span?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/api/videos/:filename',
      'url.path': '/api/videos/cat.mp4',
      'url.scheme': 'http',
      'user_agent.original': 'vitest',
      'http.response.status_code': 200,
    });
    expect(span?.attributes['client.address']).toBeTypeOf('string');
    const dump = JSON.stringify(tel.spans().map((s) => ({ a: s.attributes, e: s.events })));
    expect(dump).not.toContain('abc123secret');
    expect(dump).not.toContain('AKIAXXX');
    expect(dump).not.toContain('sekrit');
    expect(dump).toContain('[REDACTED]');
  });

  it('makes the server span the active context, so traceAsync in the handler becomes its child', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/videos/a.mp4' });
    const server = serverSpans()[0]!;
    const child = tel.spansNamed('api.videos.stream')[0]!;
    expect(child.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(child.spanContext().traceId).toBe(server.spanContext().traceId);
    expect(res.json().active).toBe(child.spanContext().spanId);
  });

  it('keeps the request context across body parsing (POST handler spans are children)', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/upload/stream', payload: { a: 'x'.repeat(1000) } });
    expect(res.statusCode).toBe(200);
    const server = serverSpans()[0]!;
    const child = tel.spansNamed('upload.child')[0]!;
    expect(server.name).toBe('POST /api/upload/stream');
    expect(child.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
  });

  it('keeps the request context in a route preValidation hook and the handler when the body arrives in later socket reads', async () => {
    // The body arrives after the request has been routed, in two later socket reads.
    const payload = JSON.stringify({ a: 'x'.repeat(20_000) });
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(new URL(base).port), '127.0.0.1', () => {
        sock.write(`PUT /body-hooks HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`);
        setTimeout(() => sock.write(payload.slice(0, 1000)), 50);
        setTimeout(() => sock.write(payload.slice(1000)), 100);
      });
      let text = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (text += d));
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
    });
    const res = { status: Number(raw.split(' ')[1]), json: async () => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as unknown };
    expect(res.status).toBe(200);
    const body = (await res.json()) as { hookSpan?: string; size: number };
    expect(body.size).toBe(payload.length);
    const server = serverSpans().find((s) => s.name === 'PUT /body-hooks')!;
    expect(body.hookSpan).toBe(server.spanContext().spanId);
    expect(tel.spansNamed('body.child')[0]!.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
  });

  it('adds its context re-entry hook only to routes with a body, before the route hooks of its own', () => {
    const names = (v: unknown): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((f: { name: string }) => f.name));
    expect(names(routeValidation.get(`GET ${ROUTES.videoStream}`))).toEqual([]);
    expect(names(routeValidation.get(`POST ${ROUTES.uploadStream}`))).toEqual(['otelReenterContext']);
    const put = names(routeValidation.get('PUT /body-hooks'));
    expect(put).toHaveLength(2);
    expect(put[0]).toBe('otelReenterContext');
  });

  it('continues the caller trace from a W3C traceparent header', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await app.inject({ method: 'GET', url: '/api/videos/a.mp4', headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    const server = serverSpans()[0]!;
    expect(server.spanContext().traceId).toBe(traceId);
    expect(server.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
  });

  it('returns traceresponse and Server-Timing headers naming the server span', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/videos/a.mp4' });
    const sc = serverSpans()[0]!.spanContext();
    const expected = `00-${sc.traceId}-${sc.spanId}-01`;
    expect(res.headers.traceresponse).toBe(expected);
    expect(res.headers['server-timing']).toBe(`traceparent;desc="${expected}"`);
    expect(TRACE_EXPOSED_HEADERS).toEqual(['traceresponse', 'server-timing']);
  });

  it('sets ERROR status and an exception event (redacted) for a 5xx, but not for a 4xx', async () => {
    const boom = await app.inject({ method: 'GET', url: '/boom' });
    expect(boom.statusCode).toBe(500);
    const [s500] = serverSpans();
    expect(s500?.name).toBe('GET /boom');
    expect(s500?.status.code).toBe(SpanStatusCode.ERROR);
    expect(s500?.attributes['error.type']).toBe('500');
    const ex = s500?.events.find((e) => e.name === 'exception');
    expect(ex?.attributes?.['exception.message']).toBe('exploded with X-Amz-Signature=[REDACTED]');
    tel.reset();
    const f = await app.inject({ method: 'GET', url: '/forbidden' });
    expect(f.statusCode).toBe(403);
    expect(serverSpans()[0]?.status.code).toBe(SpanStatusCode.UNSET);
    expect(serverSpans()[0]?.attributes['http.response.status_code']).toBe(403);
  });

  it('names unmatched requests by method only, without http.route (semantic conventions)', async () => {
    const res = await app.inject({ method: 'GET', url: '/no/such/path/123' });
    expect(res.statusCode).toBe(404);
    const [span] = serverSpans();
    expect(span?.name).toBe('GET');
    expect(span?.attributes['http.route']).toBeUndefined();
  });

  it('records the duration histogram with bounded labels and a trace_id exemplar equal to the span', async () => {
    await app.inject({ method: 'GET', url: '/api/videos/exemplar.mp4?delivery=redirect' });
    const sc = serverSpans()[0]!.spanContext();
    const text = await registry.metrics();
    const lines = text.split('\n').filter((l) => l.startsWith(`${HTTP_SERVER_DURATION}_bucket{`) && l.includes('route_class="redirect"'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes(`# {trace_id="${sc.traceId}",span_id="${sc.spanId}"}`))).toBe(true);
    const count = text.split('\n').find((l) => l.startsWith(`${HTTP_SERVER_DURATION}_count{`) && l.includes('route_class="redirect"'));
    expect(count).toContain('http_request_method="GET"');
    expect(count).toContain('http_route="/api/videos/:filename"');
    expect(count).toContain('http_response_status_code="200"');
    expect(count).toContain('service_name="video-api"');
    expect(text).toContain(`http_route="${UNMATCHED_ROUTE}"`);
    expect(text).not.toContain('exemplar.mp4');
    expect(text).not.toContain('/no/such/path');
    expect(text.endsWith('# EOF\n')).toBe(true);
  });

  it('always samples requests flagged critical and marks them with sampling.priority', async () => {
    await app.inject({ method: 'GET', url: '/api/videos/a.mp4', headers: { 'x-test-critical': '1' } });
    expect(serverSpans()[0]?.attributes['sampling.priority']).toBe(1);
  });

  it('ends the span of a request whose client went away, as client_aborted with status 499 in the metric', async () => {
    const port = Number(new URL(base).port);
    await new Promise<void>((resolve, reject) => {
      const sock = connect(port, '127.0.0.1', () => {
        sock.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 50);
      });
      sock.on('error', reject);
    });
    const deadline = Date.now() + 5000;
    while (serverSpans().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const [span] = serverSpans();
    expect(span?.name).toBe('GET /slow');
    expect(span?.attributes['error.type']).toBe('client_aborted');
    expect(span?.events.map((e) => e.name)).toContain('http.client_aborted');
    const text = await registry.metrics();
    expect(text).toMatch(/http_server_request_duration_seconds_count\{[^}]*http_route="\/slow"[^}]*http_response_status_code="499"[^}]*\} 1/);
    // The late response finds the span already ended: still exactly one server span.
    await new Promise((r) => setTimeout(r, 400));
    expect(serverSpans().length).toBe(1);
  });
});
