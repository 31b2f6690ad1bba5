// k6: the low steady traffic the compose stack runs so every dashboard panel is live: the mixed
// blend at SYNTHETIC_RATE_PER_SECOND iterations per second, for as long as compose keeps it up
// (DURATION, default one year; compose restarts it if it ever ends). No thresholds: it is
// traffic, not a test. With `-o experimental-prometheus-rw` its results land in Prometheus too.
import exec from 'k6/execution';
import type { Options } from 'k6/options';
import { SYNTHETIC_RATE_PER_SECOND } from '../src/signals/index.ts';
import { apiUrl, envNumber, runSession, sessionToken, uploadFixture } from './lib/k6-exec.ts';
import { mixedSession, type LoadContext } from './scenarios.ts';

const rate = envNumber('RATE', SYNTHETIC_RATE_PER_SECOND);

export const options: Options = {
  scenarios: {
    synthetic: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '8760h',
      preAllocatedVUs: 2,
      maxVUs: 20,
    },
  },
  // No thresholds (it is traffic, not a test); compose runs it with --no-summary, and its
  // results go to Prometheus by remote write.
  summaryTrendStats: ['p(95)'],
};

export function setup(): LoadContext {
  return uploadFixture(apiUrl(), sessionToken());
}

export default function (ctx: LoadContext): void {
  runSession(apiUrl(), mixedSession(ctx, exec.scenario.iterationInTest), { workload: 'synthetic' });
}
