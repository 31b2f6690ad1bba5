// video-api as it runs in production: `node --import src/telemetry/register.ts src/api/main.ts`
// in a child process, exporting OTLP to a real local receiver. Upload then ranged stream as a
// user would; the exported span tree; /metrics; CORS exposing the trace headers; requests
// still served while the collector refuses; clean exit on SIGTERM. Also fault injection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_VIDEO_RANGE_REQUEST, HTTP_SERVER_DURATION, S3_DURATION, SPAN_VIDEO_STREAM, VIDEO_BYTES_SERVED } from '../src/signals/index.ts';
import { fakeVideo, startApp, type StartedApp } from './harness/app.ts';
import { startOtlpReceiver, type DecodedSpan, type OtlpReceiver } from './harness/otlp-receiver.ts';

let receiver: OtlpReceiver;
let api: StartedApp;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  api = await startApp({
    mode: 'process',
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_LOGS_EXPORTER: 'none',
      VIDEO_DELIVERY_DEFAULT: 'stream',
      CORS_ORIGIN: 'http://localhost:3000',
    },
  });
});

afterAll(async () => {
  await api?.stop();
  await receiver?.stop();
});

/** Prints a span tree (name, duration, events) the way docs/api.md shows it. */
function tree(spans: DecodedSpan[], root: DecodedSpan): string {
  const lines: string[] = [];
  const walk = (s: DecodedSpan, depth: number) => {
    const ms = Number(s.endTimeUnixNano - s.startTimeUnixNano) / 1e6;
    lines.push(`${'  '.repeat(depth)}${s.name}  (${ms.toFixed(1)} ms)`);
    for (const e of s.events) lines.push(`${'  '.repeat(depth + 1)}- event ${e.name} ${JSON.stringify(e.attributes, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}`);
    for (const c of spans.filter((x) => x.parentSpanId === s.spanId).sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano))) walk(c, depth + 1);
  };
  walk(root, 0);
  return lines.join('\n');
}

describe('video-api process (preloaded SDK, OTLP export)', () => {
  it('uploads with curl -T semantics, streams a range back, and exports the span tree of the ranged request', async () => {
    const auth = { authorization: `Bearer ${api.token('alice')}` };
    const video = fakeVideo(2 * 1024 * 1024);
    const up = await fetch(`${api.url}/api/upload/stream?filename=cat.mp4`, { method: 'PUT', headers: auth, body: video });
    expect(up.status).toBe(201);
    const { url } = (await up.json()) as { url: string };

    const res = await fetch(`${api.url}${url}`, { headers: { ...auth, range: 'bytes=1024-4095', origin: 'http://localhost:3000' } });
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(video.subarray(1024, 4096));
    // CORS lets browser code read the trace context.
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(res.headers.get('access-control-expose-headers')).toMatch(/traceresponse/);
    expect(res.headers.get('access-control-expose-headers')).toMatch(/server-timing/);
    // ...and a cross-origin <video> element's Server-Timing.
    expect(res.headers.get('timing-allow-origin')).toBe('http://localhost:3000');
    const traceId = res.headers.get('traceresponse')!.split('-')[1]!;
    expect(res.headers.get('server-timing')).toContain(traceId);

    await receiver.waitFor(() => receiver.spans.some((s) => s.traceId === traceId && s.name === 'GET /api/videos/:filename'), 10_000, 'exported server span');
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    const root = spans.find((s) => s.name === 'GET /api/videos/:filename')!;
    const handler = spans.find((s) => s.name === SPAN_VIDEO_STREAM)!;
    expect(handler.parentSpanId).toBe(root.spanId);
    const range = handler.events.find((e) => e.name === EVENT_VIDEO_RANGE_REQUEST)?.attributes ?? {};
    expect(Object.fromEntries(Object.entries(range).map(([k, v]) => [k, Number(v)]))).toEqual({ start: 1024, end: 4095, totalSize: video.length });
    expect(root.resource['service.name']).toBe('video-api');
    console.log(`span tree of one ranged request (exported by the video-api process):\n${tree(spans, root)}`);
  });

  it('exports no presigned-URL signature or credential in any span or event, while the client gets the URL', async () => {
    const auth = { authorization: `Bearer ${api.token('alice')}` };
    const up = await fetch(`${api.url}/api/upload/stream`, { method: 'PUT', headers: auth, body: fakeVideo(10_000) });
    const { url } = (await up.json()) as { url: string };
    const res = await fetch(`${api.url}${url}?delivery=redirect`, { headers: auth, redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    const secrets = [location.searchParams.get('X-Amz-Signature')!, location.searchParams.get('X-Amz-Credential')!];
    expect(secrets[0]).toMatch(/^[0-9a-f]{64}$/);
    const traceId = res.headers.get('traceresponse')!.split('-')[1]!;
    await receiver.waitFor(() => receiver.spans.some((s) => s.traceId === traceId && s.name === 'GET /api/videos/:filename'), 10_000, 'exported redirect trace');
    const exported = JSON.stringify([receiver.spans, receiver.logs], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
    expect(exported).toContain('signedUrl');
    for (const secret of secrets) {
      expect(exported).not.toContain(secret);
      expect(exported).not.toContain(encodeURIComponent(secret));
    }
    expect(api.output()).not.toContain(secrets[0]);
  });

  it('serves OpenMetrics on METRICS_PORT with request, S3 and streaming series', async () => {
    const res = await fetch(api.metricsUrl!, { headers: { accept: 'application/openmetrics-text' } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(new RegExp(`${HTTP_SERVER_DURATION}_count\\{[^}]*http_route="/api/videos/:filename"[^}]*route_class="stream"[^}]*\\} [1-9]`));
    expect(text).toMatch(new RegExp(`${S3_DURATION}_count\\{[^}]*s3_operation="upload_part",outcome="success"[^}]*\\} [1-9]`));
    expect(text).toMatch(new RegExp(`${VIDEO_BYTES_SERVED}\\{[^}]*service_name="video-api"[^}]*\\} [1-9]`));
  });

  it('keeps serving while the collector refuses every export', async () => {
    receiver.setStatus(503);
    try {
      for (let i = 0; i < 20; i++) expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
      const t0 = performance.now();
      const res = await fetch(`${api.url}/api/videos/nope.mp4`, { headers: { authorization: `Bearer ${api.token('alice')}` } });
      expect(res.status).toBe(404);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      receiver.setStatus(200);
    }
  });

  it('exits 0 on SIGTERM after closing the server', async () => {
    const other = await startApp({ mode: 'process', s3: api.s3, redis: api.redis, env: { OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' } });
    const t0 = performance.now();
    await other.stop();
    expect(performance.now() - t0).toBeLessThan(5000);
    await expect(fetch(`${other.url}/healthz`)).rejects.toThrow();
    expect(other.exitCode(), other.output()).toBe(0);
  });
});

describe('fault injection (FAULT_ERROR_RATIO, FAULT_LATENCY_MS)', () => {
  it('answers every /api/* request 500 at ratio 1 after the configured delay, and leaves /healthz alone', async () => {
    const faulty = await startApp({ s3: api.s3, redis: api.redis, env: { FAULT_ERROR_RATIO: '1', FAULT_LATENCY_MS: '150' } });
    try {
      const t0 = performance.now();
      const res = await fetch(`${faulty.url}/api/videos/x.mp4`);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
      expect(res.status).toBe(500);
      expect(await res.json()).toMatchObject({ error: 'fault_injected' });
      expect((await fetch(`${faulty.url}/healthz`)).status).toBe(200);
    } finally {
      await faulty.stop();
    }
  });
});
