// Trace coverage: every route the app registers (enumerated by an onRoute hook, so routes added
// later by other modules are included) is exercised once over HTTP, and must have produced a
// SERVER span named `<METHOD> <route template>`. Prints the coverage; the target is 100 %.
import { SpanKind } from '@opentelemetry/api';
import type { RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, TRACE_COVERAGE_TARGET } from '../src/signals/index.ts';
import { startApp, type StartedApp } from './harness/app.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';
import { waitFor } from './harness/process.ts';

const OWN_ROUTES = new Set<string>([ROUTES.videoStream, ROUTES.uploadStream, ROUTES.healthz, ROUTES.readyz, '*']);

interface Endpoint {
  method: string;
  url: string;
}

let tel: TestTelemetry;
let api: StartedApp;
const endpoints: Endpoint[] = [];

beforeAll(async () => {
  tel = await startTestTelemetry('video-api');
  const onRoute = (route: RouteOptions): void => {
    for (const method of [route.method].flat()) endpoints.push({ method, url: route.url });
  };
  api = await startApp({ deps: { onRoute } });
});

afterAll(async () => {
  await api?.stop();
  await tel?.shutdown();
});

/** A concrete path for a template: every `:param` and `*` replaced by a plausible value. */
const concrete = (template: string): string => (template.startsWith('/') ? template : `/${template}`).replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => (name === 'filename' ? 'c0ffee00-0000-4000-8000-000000000000.mp4' : `x-${name}`)).replace(/\*/g, 'x');

describe('trace coverage', () => {
  it('registers the routes of the plan', () => {
    const names = endpoints.map((e) => `${e.method} ${e.url}`);
    expect(names).toEqual(expect.arrayContaining(['GET /api/videos/:filename', 'POST /api/upload/stream', 'PUT /api/upload/stream', 'GET /healthz', 'GET /readyz']));
  });

  it('gives every registered route a SERVER span named by its route template (100 %)', async () => {
    const unique = [...new Map(endpoints.map((e) => [`${e.method} ${e.url}`, e])).values()];
    const statuses = new Map<string, number>();
    for (const e of unique) {
      const headers: Record<string, string> = { authorization: `Bearer ${api.token('coverage')}` };
      let body: string | undefined;
      if (e.method === 'OPTIONS') {
        headers.origin = 'http://localhost:3000';
        headers['access-control-request-method'] = 'GET';
      }
      if (['POST', 'PUT', 'PATCH'].includes(e.method)) {
        headers['content-type'] = 'application/json';
        body = '{}';
      }
      const res = await fetch(`${api.url}${concrete(e.url)}`, { method: e.method, headers, ...(body !== undefined ? { body } : {}), redirect: 'manual' });
      await res.arrayBuffer();
      statuses.set(`${e.method} ${e.url}`, res.status);
      // This module's routes answer a junk request with a 4xx, never a 5xx. (Routes added by other
      // modules may need dependencies this harness does not start; for them only the span counts.)
      if (OWN_ROUTES.has(e.url)) expect(res.status, `${e.method} ${e.url}`).toBeLessThan(500);
    }
    const expected = unique.map((e) => `${e.method} ${e.url}`);
    const serverSpanNames = () => new Set(tel.spans().filter((s) => s.kind === SpanKind.SERVER).map((s) => s.name));
    await waitFor(() => expected.every((n) => serverSpanNames().has(n)), 5000, 'a server span per route').catch(() => undefined);
    const seen = serverSpanNames();
    const covered = expected.filter((n) => seen.has(n));
    const ratio = covered.length / expected.length;
    console.log(`trace coverage: ${covered.length}/${expected.length} routes = ${(ratio * 100).toFixed(1)} %`);
    for (const n of expected) console.log(`  ${seen.has(n) ? 'covered' : 'MISSING'}  ${n}  (answered ${statuses.get(n)})`);
    expect(expected.filter((n) => !seen.has(n))).toEqual([]);
    expect(ratio).toBeGreaterThanOrEqual(TRACE_COVERAGE_TARGET);
  });
});
