// Sampling as wired by the app, with the production ratio (SAMPLING_RATIO.production): a video
// request without valid credentials and every upload are always traced (critical), while
// ordinary traffic is sampled at the ratio. Metrics count every request either way.
import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_SERVER_DURATION, SAMPLING_RATIO } from '../src/signals/index.ts';
import { registry } from '../src/telemetry/index.ts';
import { startApp, type StartedApp } from './harness/app.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';

let tel: TestTelemetry;
let api: StartedApp;

beforeAll(async () => {
  tel = await startTestTelemetry('video-api', { environment: 'production' });
  api = await startApp({ env: { DEPLOYMENT_ENVIRONMENT: 'production' } });
});
afterAll(async () => {
  await api?.stop();
  await tel?.shutdown();
});

const serverSpans = (name: string) => tel.spans().filter((s) => s.kind === SpanKind.SERVER && s.name === name);

describe('sampling in production', () => {
  it('always traces video requests without valid credentials and uploads; samples the rest', async () => {
    expect(SAMPLING_RATIO.production).toBeLessThan(0.5);
    const N = 40;
    tel.reset();
    for (let i = 0; i < N; i++) {
      const res = await fetch(`${api.url}/api/videos/c0ffee00-0000-4000-8000-00000000000${i % 10}.mp4`, i % 2 ? {} : { headers: { cookie: 'session=forged.token' } });
      expect(res.status).toBe(401);
      await res.arrayBuffer();
    }
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${api.url}/api/upload/stream`, { method: 'POST', body: 'x' });
      expect(res.status).toBe(401);
    }
    // Valid session, missing video: not critical, so sampled at the production ratio.
    const token = api.token('alice');
    for (let i = 0; i < N; i++) {
      const res = await fetch(`${api.url}/api/videos/c0ffee00-0000-4000-8000-00000000000${i % 10}.mp4`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(404);
      await res.arrayBuffer();
    }
    await new Promise((r) => setTimeout(r, 200));
    const video = serverSpans('GET /api/videos/:filename');
    const unauthorised = video.filter((s) => s.attributes['http.response.status_code'] === 401);
    const sampled404 = video.filter((s) => s.attributes['http.response.status_code'] === 404);
    console.log(`production sampling: 401 traced ${unauthorised.length}/${N}, uploads traced ${serverSpans('POST /api/upload/stream').length}/10, 404 with a session traced ${sampled404.length}/${N}`);
    expect(unauthorised).toHaveLength(N);
    expect(serverSpans('POST /api/upload/stream')).toHaveLength(10);
    // Binomial(40, 0.1): more than 20 sampled has probability < 1e-12.
    expect(sampled404.length).toBeLessThan(N / 2);
    // Metrics are not sampled: all 40 404s are counted.
    expect(await registry.metrics()).toMatch(new RegExp(`${HTTP_SERVER_DURATION}_count\\{[^}]*http_response_status_code="404"[^}]*\\} ${N}\\b`));
  });
});
