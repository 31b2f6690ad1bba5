// k6: a realistic blend (MIXED_WEIGHTS): mostly player sessions, some presigned redirects, a few
// uploads, requests from expired sessions (401) and health checks, at a constant arrival rate.
//   k6 run -e SESSION_TOKEN=... -e RATE=20 load-tests/mixed.ts
import exec from 'k6/execution';
import type { Options } from 'k6/options';
import { apiUrl, envNumber, runSession, sessionToken, uploadFixture } from './lib/k6-exec.ts';
import { mixedSession, thresholds, type LoadContext } from './scenarios.ts';

const rate = envNumber('RATE', 20);

export const options: Options = {
  scenarios: {
    mixed: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '2m',
      preAllocatedVUs: Math.max(2, Math.ceil(rate)),
      maxVUs: Math.max(10, Math.ceil(rate * 5)),
    },
  },
  thresholds: thresholds(['stream', 'redirect', 'upload', 'internal']),
};

export function setup(): LoadContext {
  return uploadFixture(apiUrl(), sessionToken());
}

export default function (ctx: LoadContext): void {
  runSession(apiUrl(), mixedSession(ctx, exec.scenario.iterationInTest), { workload: 'mixed' });
}
