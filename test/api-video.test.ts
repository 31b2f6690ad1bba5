// GET /api/videos/:filename against real s3rver and Redis: what a user gets (status, headers,
// bytes) and what the trace says (spans, parent/child links, events, attributes), for redirect,
// stream, auth failures and S3 failures. Secrets never reach spans, events or logs.
import { Writable } from 'node:stream';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createS3Store, type S3Store } from '../src/lib/s3.ts';
import {
  ATTR,
  EVENT_VIDEO_ACCESS_CHECK,
  EVENT_VIDEO_CLIENT_ABORT,
  EVENT_VIDEO_RANGE_REQUEST,
  EVENT_VIDEO_S3_REDIRECT,
  ERROR_TYPE_CANCELED,
  ERROR_TYPE_CLIENT_ABORTED,
  META,
  S3_ATTR,
  S3_DURATION,
  S3_LABELS,
  SPAN_VIDEO_STREAM,
  VIDEO_ACCESS_CHECKS,
  VIDEO_BYTES_SERVED,
  s3SpanName,
} from '../src/signals/index.ts';
import { createLogger, registry } from '../src/telemetry/index.ts';
import { fakeVideo, startApp, type StartedApp } from './harness/app.ts';
import { lastResponseTrace, startTestTelemetry, type TestTelemetry } from './harness/otel.ts';
import { waitFor } from './harness/process.ts';
import { histogramCount } from '../bench/stats.ts';

let tel: TestTelemetry;
let api: StartedApp;
let store: S3Store;
const logLines: string[] = [];
const VIDEO = fakeVideo(300_000);
const ID = 'a1b2c3d4-0000-4000-8000-000000000001';
const PUBLIC_ID = 'a1b2c3d4-0000-4000-8000-000000000002';
const BIG_ID = 'a1b2c3d4-0000-4000-8000-000000000003';

beforeAll(async () => {
  tel = await startTestTelemetry('video-api');
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString());
      cb();
    },
  });
  api = await startApp({ env: { VIDEO_DELIVERY_DEFAULT: 'stream' }, deps: { logger: createLogger('video-api', sink) } });
  store = createS3Store({ ...api.s3, maxAttempts: 1 });
  const meta = (owner: string, visibility: string) => ({ contentType: 'video/mp4', metadata: { [META.owner]: owner, [META.visibility]: visibility } });
  await store.putObject(`videos/${ID}.mp4`, VIDEO, meta('alice', 'private'));
  await store.putObject(`videos/${PUBLIC_ID}.mp4`, VIDEO, meta('alice', 'public'));
  await store.putObject(`videos/${BIG_ID}.mp4`, fakeVideo(8 * 1024 * 1024), meta('alice', 'private'));
});

afterAll(async () => {
  store?.destroy();
  await api?.stop();
  await tel?.shutdown();
});

/** Spans of the trace of the last response (from its traceresponse header): assertions look at that trace only. */
const trace = lastResponseTrace(() => tel);
const { remember, call, mine, named } = trace;
beforeEach(() => trace.reset());

const auth = (user: string) => ({ authorization: `Bearer ${api.token(user)}` });
const byName = (name: string): ReadableSpan => {
  const s = named(name);
  expect(s, `span ${name} among ${mine().map((x) => x.name).join(', ')}`).toHaveLength(1);
  return s[0]!;
};
const event = (span: ReadableSpan, name: string) => span.events.find((e) => e.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const allTelemetryText = (): string =>
  JSON.stringify(tel.spans().map((s) => ({ n: s.name, a: s.attributes, e: s.events, st: s.status }))) +
  JSON.stringify(tel.logs().map((l) => ({ b: l.body, a: l.attributes }))) +
  logLines.join('');

describe('GET /api/videos/:filename, streaming', () => {
  it('answers a ranged request with 206, exact bytes and a span tree server -> api.videos.stream -> s3.head_object, s3.get_object', async () => {
    const res = await call(`${api.url}/api/videos/${ID}.mp4?delivery=stream`, { headers: { ...auth('alice'), range: 'bytes=1000-1999' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 1000-1999/${VIDEO.length}`);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(VIDEO.subarray(1000, 2000));
    await waitFor(() => named('GET /api/videos/:filename').length === 1, 2000, 'server span');

    const server = byName('GET /api/videos/:filename');
    const handler = byName(SPAN_VIDEO_STREAM);
    const head = byName(s3SpanName('head_object'));
    const get = byName(s3SpanName('get_object'));
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(res.headers.get('traceresponse')).toBe(`00-${server.spanContext().traceId}-${server.spanContext().spanId}-01`);
    expect(parentOf(handler)).toBe(server.spanContext().spanId);
    expect(parentOf(head)).toBe(handler.spanContext().spanId);
    expect(parentOf(get)).toBe(handler.spanContext().spanId);
    expect(head.kind).toBe(SpanKind.CLIENT);
    expect(get.attributes).toMatchObject({
      [S3_ATTR.bucket]: api.s3.bucket,
      [S3_ATTR.key]: `videos/${ID}.mp4`,
      [S3_ATTR.operation]: 'get_object',
      [S3_ATTR.range]: 'bytes=1000-1999',
    });
    expect(handler.attributes).toMatchObject({
      [ATTR.filename]: `${ID}.mp4`,
      [ATTR.size]: VIDEO.length,
      [ATTR.format]: 'mp4',
      [ATTR.delivery]: 'stream',
    });
    expect(event(handler, EVENT_VIDEO_ACCESS_CHECK)?.attributes).toEqual({ filename: `${ID}.mp4`, hasSession: true, outcome: 'granted' });
    expect(event(handler, EVENT_VIDEO_RANGE_REQUEST)?.attributes).toEqual({ start: 1000, end: 1999, totalSize: VIDEO.length });
    expect(handler.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('answers without Range with 200, the whole body, ETag and Accept-Ranges, and no range event', async () => {
    const res = await call(`${api.url}/api/videos/${ID}.mp4`, { headers: auth('alice') });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(VIDEO.length));
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(VIDEO);
    await waitFor(() => named(SPAN_VIDEO_STREAM).length === 1, 2000, 'handler span');
    expect(event(byName(SPAN_VIDEO_STREAM), EVENT_VIDEO_RANGE_REQUEST)).toBeUndefined();
    expect(await registry.metrics()).toMatch(new RegExp(`${VIDEO_BYTES_SERVED}\\{[^}]*\\} [1-9]`));
  });

  it('lets anyone with a session read a public video, and records the check as granted', async () => {
    const res = await call(`${api.url}/api/videos/${PUBLIC_ID}.mp4`, { headers: { ...auth('bob'), range: 'bytes=-10' } });
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(VIDEO.subarray(VIDEO.length - 10));
  });

  it('aborts the S3 read when the client goes away mid-stream, and records video.client_abort', async () => {
    const url = new URL(`${api.url}/api/videos/${BIG_ID}.mp4?delivery=stream`);
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(url, { headers: auth('alice') }, (res) => {
        expect(res.statusCode).toBe(200);
        remember(res.headers.traceresponse as string | undefined);
        let got = 0;
        res.on('data', (c: Buffer) => {
          got += c.length;
          // Stop reading after the first 64 KiB and drop the connection.
          if (got > 65_536) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', () => resolve());
      setTimeout(() => reject(new Error('no data within 5 s')), 5000).unref();
      req.end();
    });
    await waitFor(() => named(SPAN_VIDEO_STREAM).length === 1, 5000, 'handler span after abort');
    const handler = byName(SPAN_VIDEO_STREAM);
    const abort = event(handler, EVENT_VIDEO_CLIENT_ABORT);
    expect(abort, 'video.client_abort event').toBeDefined();
    expect(Number(abort!.attributes!.bytes)).toBeLessThan(8 * 1024 * 1024);
    expect(abort!.attributes!.totalBytes).toBe(8 * 1024 * 1024);
    // A client abort is not a server error.
    expect(handler.status.code).not.toBe(SpanStatusCode.ERROR);
  });
});

describe('GET /api/videos/:filename, redirect', () => {
  it('redirects to a presigned URL and records video.s3_redirect without the signature', async () => {
    const res = await call(`${api.url}/api/videos/${ID}.mp4?delivery=redirect`, { headers: auth('alice'), redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = res.headers.get('location')!;
    expect(location).toContain('X-Amz-Signature=');
    const signature = new URL(location).searchParams.get('X-Amz-Signature')!;
    const credential = new URL(location).searchParams.get('X-Amz-Credential')!;
    // The presigned URL really works.
    const direct = await fetch(location);
    expect(direct.status).toBe(200);
    expect(Buffer.from(await direct.arrayBuffer())).toEqual(VIDEO);

    await waitFor(() => named(SPAN_VIDEO_STREAM).length === 1, 2000, 'handler span');
    const handler = byName(SPAN_VIDEO_STREAM);
    const signed = byName(s3SpanName('get_signed_url'));
    expect(parentOf(signed)).toBe(handler.spanContext().spanId);
    expect(event(handler, EVENT_VIDEO_S3_REDIRECT)?.attributes).toEqual({ s3Key: `videos/${ID}.mp4`, signedUrl: 'generated' });
    expect(handler.attributes[ATTR.delivery]).toBe('redirect');
    const text = allTelemetryText();
    expect(text).not.toContain(signature);
    expect(text).not.toContain(credential);
    expect(text).not.toContain(encodeURIComponent(credential));
  });

  it('uses the configured default delivery when no ?delivery is given', async () => {
    const res = await call(`${api.url}/api/videos/${ID}.mp4`, { headers: { ...auth('alice'), range: 'bytes=0-0' }, redirect: 'manual' });
    expect(api.config.deliveryDefault).toBe('stream');
    expect(res.status).toBe(206);
    await res.arrayBuffer();
  });
});

describe('GET /api/videos/:filename, access control', () => {
  it('answers 401 without a session, records video.access_check no_session, and calls no S3', async () => {
    const res = await call(`${api.url}/api/videos/${ID}.mp4`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'unauthenticated' });
    await waitFor(() => named(SPAN_VIDEO_STREAM).length === 1, 2000, 'handler span');
    expect(event(byName(SPAN_VIDEO_STREAM), EVENT_VIDEO_ACCESS_CHECK)?.attributes).toEqual({ filename: `${ID}.mp4`, hasSession: false, outcome: 'no_session' });
    expect(mine().filter((s) => s.name.startsWith('s3.'))).toHaveLength(0);
    // The SERVER span of a failed video access is forced-sampled (critical).
    expect(byName('GET /api/videos/:filename').attributes['sampling.priority']).toBe(1);
  });

  it('answers 401 for a tampered or expired token and records invalid_session', async () => {
    const token = api.token('alice');
    const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    for (const t of [tampered, api.token('alice', -10)]) {
      tel.reset();
      const res = await call(`${api.url}/api/videos/${ID}.mp4`, { headers: { cookie: `session=${t}` } });
      expect(res.status).toBe(401);
      await waitFor(() => named(SPAN_VIDEO_STREAM).length === 1, 2000, 'handler span');
      expect(event(byName(SPAN_VIDEO_STREAM), EVENT_VIDEO_ACCESS_CHECK)?.attributes?.outcome).toBe('invalid_session');
    }
  });

  it("answers 403 for another user's private video and records forbidden (and counts it)", async () => {
    const res = await call(`${api.url}/api/videos/${ID}.mp4`, { headers: auth('mallory') });
    expect(res.status).toBe(403);
    await waitFor(() => named(SPAN_VIDEO_STREAM).length === 1, 2000, 'handler span');
    expect(event(byName(SPAN_VIDEO_STREAM), EVENT_VIDEO_ACCESS_CHECK)?.attributes).toEqual({ filename: `${ID}.mp4`, hasSession: true, outcome: 'forbidden' });
    expect(await registry.metrics()).toMatch(new RegExp(`${VIDEO_ACCESS_CHECKS}\\{[^}]*outcome="forbidden"[^}]*\\} [1-9]`));
  });

  it('answers 404 for a missing video, records not_found, and the head_object span is not an error page', async () => {
    const res = await call(`${api.url}/api/videos/ffffffff-0000-4000-8000-000000000000.mp4`, { headers: auth('alice') });
    expect(res.status).toBe(404);
    await waitFor(() => named(SPAN_VIDEO_STREAM).length === 1, 2000, 'handler span');
    expect(event(byName(SPAN_VIDEO_STREAM), EVENT_VIDEO_ACCESS_CHECK)?.attributes?.outcome).toBe('not_found');
    expect(byName(s3SpanName('head_object')).attributes[S3_ATTR.statusCode]).toBe(404);
  });

  it('answers 400 with a JSON reason for path-like or non-video names and a bad delivery value', async () => {
    for (const path of ['..%2F..%2Fetc%2Fpasswd', 'x.exe', '%00.mp4', `${ID}.mp4?delivery=carrier-pigeon`]) {
      const res = await call(`${api.url}/api/videos/${path}`, { headers: auth('alice') });
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/^invalid_/);
    }
  });
});

describe('GET /api/videos/:filename when S3 fails', () => {
  it('answers 502 and marks the S3 span and the handler span ERROR when S3 is down', async () => {
    const down = createS3Store({ ...api.s3, endpoint: 'http://127.0.0.1:9', maxAttempts: 1 });
    const broken = await startApp({ s3: api.s3, redis: api.redis, deps: { s3: down } });
    try {
      tel.reset();
      const res = await call(`${broken.url}/api/videos/${ID}.mp4`, { headers: { authorization: `Bearer ${broken.token('alice')}` } });
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({ error: 'storage_error' });
      await waitFor(() => named(SPAN_VIDEO_STREAM).length === 1, 2000, 'handler span');
      const head = byName(s3SpanName('head_object'));
      const handler = byName(SPAN_VIDEO_STREAM);
      expect(head.status.code).toBe(SpanStatusCode.ERROR);
      expect(head.events.some((e) => e.name === 'exception')).toBe(true);
      expect(handler.status.code).toBe(SpanStatusCode.ERROR);
      expect(byName('GET /api/videos/:filename').status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      await broken.stop();
      down.destroy();
    }
  });
});

/**
 * An HTTP proxy in front of s3rver that forwards everything, except that it can hold the next
 * request of one method unanswered (an S3 call in flight) and tell when its caller gave up on it.
 */
async function startHoldProxy(target: string): Promise<{ url: string; hold: (method: string) => Promise<{ request: IncomingMessage; closed: Promise<void> }>; close: () => Promise<void> }> {
  let holding: { method: string; resolve: (h: { request: IncomingMessage; closed: Promise<void> }) => void } | undefined;
  const server = createServer((req, res) => {
    if (holding !== undefined && req.method === holding.method) {
      const { resolve } = holding;
      holding = undefined;
      resolve({ request: req, closed: new Promise<void>((done) => res.once('close', () => done())) });
      return;
    }
    const up = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (err) => res.destroy(err));
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: (method) => new Promise((resolve) => (holding = { method, resolve })),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('GET /api/videos/:filename when the viewer goes away before S3 answers', () => {
  // A player seeking elsewhere drops the range it asked for, often while the S3 call is in flight.
  it.each([
    ['HEAD', 'head_object', undefined],
    ['GET', 'get_object', 1000],
  ] as const)('aborts the %s in flight, ends as a client abort: no S3 error, no ERROR span, no error log', async (method, operation, totalBytes) => {
    const proxy = await startHoldProxy(api.s3.endpoint);
    const lines: string[] = [];
    const logger = createLogger(
      'video-api',
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    );
    const viaProxy = await startApp({ s3: api.s3, redis: api.redis, env: { S3_ENDPOINT: proxy.url, VIDEO_DELIVERY_DEFAULT: 'stream' }, deps: { logger } });
    try {
      const counts = async () => {
        const text = await registry.metrics();
        const of = (outcome: string) => histogramCount(text, S3_DURATION, { [S3_LABELS.operation]: operation, [S3_LABELS.outcome]: outcome }) ?? 0;
        return { canceled: of('canceled'), error: of('error') };
      };
      const before = await counts();
      const held = proxy.hold(method);
      const client = httpRequest(`${viaProxy.url}/api/videos/${ID}.mp4`, {
        agent: false,
        headers: { authorization: `Bearer ${viaProxy.token('alice')}`, range: 'bytes=0-999' },
      });
      const clientDone = new Promise<void>((resolve) => {
        client.on('error', () => resolve());
        client.on('close', () => resolve());
      });
      client.end();
      const { closed } = await held;
      client.destroy();
      await clientDone;
      // The service gave up on the S3 call as soon as the viewer left.
      await closed;
      await waitFor(() => named('GET /api/videos/:filename').length === 1, 5000, 'server span after the abort');

      const handler = byName(SPAN_VIDEO_STREAM);
      const s3Span = byName(s3SpanName(operation));
      const server = byName('GET /api/videos/:filename');
      const abort = event(handler, EVENT_VIDEO_CLIENT_ABORT);
      expect(abort, 'video.client_abort event').toBeDefined();
      expect(abort!.attributes).toEqual(totalBytes === undefined ? { bytes: 0 } : { bytes: 0, totalBytes });
      expect(handler.status.code).not.toBe(SpanStatusCode.ERROR);
      expect(s3Span.status.code).not.toBe(SpanStatusCode.ERROR);
      expect(s3Span.attributes['error.type']).toBe(ERROR_TYPE_CANCELED);
      expect(s3Span.events.some((e) => e.name === 'exception')).toBe(false);
      expect(server.status.code).not.toBe(SpanStatusCode.ERROR);
      expect(server.attributes['error.type']).toBe(ERROR_TYPE_CLIENT_ABORTED);
      // Counted as canceled, not as an S3 error (the S3 error-ratio alert would count seeks).
      const after = await counts();
      expect(after.canceled - before.canceled).toBe(1);
      expect(after.error - before.error).toBe(0);
      expect(lines.join('')).not.toContain('request failed');
      expect(lines.filter((l) => l.includes('"level":"error"') || l.includes('"level":50'))).toEqual([]);
    } finally {
      await viaProxy.stop();
      await proxy.close();
    }
  });
});
