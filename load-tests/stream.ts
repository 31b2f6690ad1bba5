// k6: video players. Each iteration is one player session: the first range, sequential ranges,
// a seek, and now and then a read abandoned mid-range (scenarios.ts streamSession).
//   k6 run -e SESSION_TOKEN=... -e API_URL=http://127.0.0.1:8080 load-tests/stream.ts
import exec from 'k6/execution';
import type { Options } from 'k6/options';
import { apiUrl, envNumber, runSession, sessionToken, uploadFixture } from './lib/k6-exec.ts';
import { streamSession, thresholds, type LoadContext } from './scenarios.ts';

export const options: Options = {
  scenarios: {
    stream: { executor: 'constant-vus', vus: envNumber('VUS', 10), duration: __ENV.DURATION || '1m' },
  },
  thresholds: thresholds(['stream']),
};

export function setup(): LoadContext {
  return uploadFixture(apiUrl(), sessionToken());
}

export default function (ctx: LoadContext): void {
  runSession(apiUrl(), streamSession(ctx, exec.scenario.iterationInTest), { workload: 'stream' });
}
