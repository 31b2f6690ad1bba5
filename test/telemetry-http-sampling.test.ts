// instrumentFastify under the production profile (10 % head sampling): critical routes and
// requests flagged critical are always traced, the rest at the ratio, and the request metric
// counts every request (metrics are never sampled) with exemplars only from sampled spans.
import { context, createContextKey, propagation, SpanKind, trace } from '@opentelemetry/api';
import { connect, type AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_SERVER_DURATION, ROUTES, SAMPLING_RATIO } from '../src/signals/index.ts';
import { instrumentFastify } from '../src/telemetry/http-server.ts';
import { registry } from '../src/telemetry/metrics.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';

let tel: TestTelemetry;
let app: FastifyInstance;
const N = 400;

beforeAll(async () => {
  tel = await startTestTelemetry('video-api', { environment: 'production' });
  app = Fastify();
  // The API flags video requests without valid credentials as critical (future 401/403).
  instrumentFastify(app, { critical: (req) => req.routeOptions.url === ROUTES.videoStream && req.headers.authorization === undefined });
  app.get(ROUTES.videoList, async () => ({ videos: [] }));
  app.get(ROUTES.videoStream, async (req, reply) => (req.headers.authorization ? { ok: true } : reply.code(401).send({ error: 'unauthorized' })));
  app.post(ROUTES.uploadStream, async (_req, reply) => reply.code(201).send({ id: 'x' }));
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await tel.shutdown();
});

const serverSpans = (name: string) => tel.spans().filter((s) => s.kind === SpanKind.SERVER && s.name === name);

describe('instrumentFastify sampling in production', () => {
  it('traces about 10 % of ordinary requests but counts all of them in the metric', async () => {
    for (let i = 0; i < N; i++) await app.inject({ method: 'GET', url: ROUTES.videoList });
    const sampled = serverSpans(`GET ${ROUTES.videoList}`).length;
    // Binomial(400, 0.1): mean 40, sd 6; the bounds are > 4 sd away.
    expect(SAMPLING_RATIO.production).toBe(0.1);
    expect(sampled).toBeGreaterThan(15);
    expect(sampled).toBeLessThan(70);
    const text = await registry.metrics();
    const count = text.split('\n').find((l) => l.startsWith(`${HTTP_SERVER_DURATION}_count{`) && l.includes(`http_route="${ROUTES.videoList}"`));
    expect(count?.endsWith(` ${N}`)).toBe(true);
    // Exemplars only point at traces that exist.
    const sampledIds = new Set(serverSpans(`GET ${ROUTES.videoList}`).map((s) => s.spanContext().traceId));
    const exemplarIds = [...text.matchAll(new RegExp(`${HTTP_SERVER_DURATION}_bucket\\{[^}]*http_route="/api/videos"[^}]*\\} \\d+ # \\{trace_id="([0-9a-f]{32})"`, 'g'))].map((m) => m[1]!);
    expect(exemplarIds.length).toBeGreaterThan(0);
    for (const id of exemplarIds) expect(sampledIds.has(id)).toBe(true);
  });

  it('always traces the critical upload route', async () => {
    for (let i = 0; i < 40; i++) await app.inject({ method: 'POST', url: ROUTES.uploadStream, payload: 'x' });
    expect(serverSpans(`POST ${ROUTES.uploadStream}`).length).toBe(40);
  });

  it('always traces video requests flagged critical (no credentials: the future 401), and samples the others', async () => {
    for (let i = 0; i < 40; i++) await app.inject({ method: 'GET', url: '/api/videos/a.mp4' });
    const anonymous = serverSpans(`GET ${ROUTES.videoStream}`);
    expect(anonymous.length).toBe(40);
    expect(anonymous.every((s) => s.attributes['http.response.status_code'] === 401)).toBe(true);
    tel.reset();
    for (let i = 0; i < 100; i++) await app.inject({ method: 'GET', url: '/api/videos/a.mp4', headers: { authorization: 'Bearer t' } });
    expect(serverSpans(`GET ${ROUTES.videoStream}`).length).toBeLessThan(40);
  });

  it('returns a traceresponse with flags 00 for an unsampled request, so the client still has the trace id', async () => {
    let unsampled: string | undefined;
    for (let i = 0; i < 50 && !unsampled; i++) {
      const res = await app.inject({ method: 'GET', url: ROUTES.videoList });
      const tr = String(res.headers.traceresponse);
      if (tr.endsWith('-00')) unsampled = tr;
    }
    expect(unsampled).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });

  it('gives every unsampled request its own trace and span id, also across refills of the id pool (4096+ requests)', async () => {
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    let unsampled = 0;
    for (let i = 0; i < 5000; i++) {
      const res = await app.inject({ method: 'GET', url: ROUTES.videoList });
      const traceresponse = String(res.headers.traceresponse);
      const [, traceId, spanId, flags] = traceresponse.split('-');
      if (flags !== '00') continue;
      unsampled++;
      expect(res.headers['server-timing']).toBe(`traceparent;desc="${traceresponse}"`);
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(spanId).toMatch(/^[0-9a-f]{16}$/);
      traceIds.add(traceId!);
      spanIds.add(spanId!);
    }
    expect(unsampled).toBeGreaterThan(4096);
    expect(traceIds.size).toBe(unsampled);
    expect(spanIds.size).toBe(unsampled);
  });
});

describe('the active context inside an unsampled and a sampled root request', () => {
  it('holds the request span, keeps it when a value is added, and propagates the same trace id', async () => {
    const key = createContextKey('test.request-context');
    const seen: { traceId?: string; sampled: boolean; withValue: unknown; spanKept: boolean; deleted: boolean; outgoing?: string; child?: string }[] = [];
    const probe = Fastify();
    instrumentFastify(probe);
    probe.get('/probe', async () => {
      const active = context.active();
      const span = trace.getSpan(active);
      const added = active.setValue(key, 'v');
      const carrier: Record<string, string> = {};
      propagation.inject(active, carrier);
      const child = trace.getTracer('test').startSpan('child');
      child.end();
      seen.push({
        traceId: span?.spanContext().traceId,
        sampled: (span?.spanContext().traceFlags ?? 0) === 1,
        withValue: added.getValue(key),
        spanKept: trace.getSpan(added) === span,
        deleted: trace.getSpan(active.deleteValue(Symbol.for('OpenTelemetry Context Key SPAN'))) === undefined,
        outgoing: carrier.traceparent,
        child: child.spanContext().traceId,
      });
      return { ok: true };
    });
    await probe.ready();
    const headers: string[] = [];
    for (let i = 0; i < 60 && !(seen.some((s) => s.sampled) && seen.some((s) => !s.sampled)); i++) {
      headers.push(String((await probe.inject({ method: 'GET', url: '/probe' })).headers.traceresponse));
    }
    await probe.close();
    expect(seen.some((s) => s.sampled) && seen.some((s) => !s.sampled)).toBe(true);
    seen.forEach((s, i) => {
      expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(headers[i]!.split('-')[1]).toBe(s.traceId);
      expect(s.withValue).toBe('v');
      expect(s.spanKept).toBe(true);
      expect(s.deleted).toBe(true);
      // Outgoing calls carry this request's trace id and sampling flag; child spans join the trace.
      expect(s.outgoing).toBe(`00-${s.traceId}-${headers[i]!.split('-')[2]}-0${s.sampled ? 1 : 0}`);
      expect(s.child).toBe(s.traceId);
    });
  });
});

describe('the connections of sampled and unsampled requests', () => {
  it('have one shape: the peer address a sampled request reads is cached on every socket when it connects', async () => {
    const srv = Fastify();
    instrumentFastify(srv);
    srv.get('/socket-keys', async (req) => Object.keys(req.raw.socket));
    await srv.listen({ port: 0, host: '127.0.0.1' });
    const port = (srv.server.address() as AddressInfo).port;
    // A parent's flags decide deterministically: 01 sampled (client.address read), 00 not.
    const keysWith = (flags: string) =>
      new Promise<string[]>((resolve, reject) => {
        const sock = connect(port, '127.0.0.1', () =>
          sock.write(`GET /socket-keys HTTP/1.1\r\nHost: x\r\nConnection: close\r\ntraceparent: 00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-${flags}\r\n\r\n`),
        );
        let raw = '';
        sock.on('data', (d) => (raw += d));
        sock.on('end', () => resolve(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as string[]));
        sock.on('error', reject);
      });
    tel.reset();
    const sampled = await keysWith('01');
    const unsampled = await keysWith('00');
    expect(serverSpans('GET /socket-keys')).toHaveLength(1);
    expect(sampled).toContain('_peername');
    expect(unsampled).toEqual(sampled);
    await srv.close();
  });
});

describe('requests whose client goes away, sampled or not', () => {
  it('counts every one as 499 in the metric and ends only the sampled spans, as client_aborted', async () => {
    const slow = Fastify();
    instrumentFastify(slow);
    slow.get('/gone', async () => new Promise((r) => setTimeout(() => r({ late: true }), 300)));
    await slow.listen({ port: 0, host: '127.0.0.1' });
    const port = (slow.server.address() as AddressInfo).port;
    tel.reset();
    const aborted = 40;
    await Promise.all(
      Array.from(
        { length: aborted },
        () =>
          new Promise<void>((resolve, reject) => {
            const sock = connect(port, '127.0.0.1', () => {
              sock.write('GET /gone HTTP/1.1\r\nHost: x\r\n\r\n');
              setTimeout(() => {
                sock.destroy();
                resolve();
              }, 50);
            });
            sock.on('error', reject);
          }),
      ),
    );
    const count = async () => {
      const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${HTTP_SERVER_DURATION}_count{`) && l.includes('http_route="/gone"') && l.includes('http_response_status_code="499"'));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const deadline = Date.now() + 5000;
    while ((await count()) < aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await count()).toBe(aborted);
    // The late responses find every request already finished: no second observation, no other status.
    await new Promise((r) => setTimeout(r, 400));
    expect(await count()).toBe(aborted);
    const text = await registry.metrics();
    expect(text.split('\n').filter((l) => l.startsWith(`${HTTP_SERVER_DURATION}_count{`) && l.includes('http_route="/gone"'))).toHaveLength(1);
    const spans = serverSpans('GET /gone');
    // Most went through the unsampled path (10 % sampling); the sampled ones end as client_aborted.
    expect(spans.length).toBeLessThan(aborted);
    for (const s of spans) {
      expect(s.attributes['error.type']).toBe('client_aborted');
      expect(s.events.map((e) => e.name)).toContain('http.client_aborted');
    }
    await slow.close();
  });
});
