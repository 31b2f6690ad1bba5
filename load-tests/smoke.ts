// k6: every path once with one virtual user, each with its one correct answer (200, 206, 416,
// 302 + S3 206, 401, 201, 413). Run it first: it fails fast when the service is misconfigured.
//   k6 run -e SESSION_TOKEN=... load-tests/smoke.ts
import type { Options } from 'k6/options';
import { K6_UNEXPECTED_METRIC } from '../src/signals/index.ts';
import { apiUrl, runSession, sessionToken, uploadFixture } from './lib/k6-exec.ts';
import { smokeSession, thresholds, type LoadContext } from './scenarios.ts';

export const options: Options = {
  scenarios: { smoke: { executor: 'per-vu-iterations', vus: 1, iterations: 1 } },
  // Smoke fails on any unexpected answer, not on the 5 % error budget.
  thresholds: { ...thresholds(['stream', 'redirect', 'upload', 'internal']), [K6_UNEXPECTED_METRIC]: ['rate==0'] },
};

export function setup(): LoadContext {
  return uploadFixture(apiUrl(), sessionToken());
}

export default function (ctx: LoadContext): void {
  runSession(apiUrl(), smokeSession(ctx), { workload: 'smoke' });
}
