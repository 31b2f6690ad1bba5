// k6: players that fetch video from S3 directly: the presigned redirect (302), then the object
// download from the Location (a first range), as a browser would.
//   k6 run -e SESSION_TOKEN=... load-tests/redirect.ts
import type { Options } from 'k6/options';
import { apiUrl, envNumber, runSession, sessionToken, uploadFixture } from './lib/k6-exec.ts';
import { redirectSession, thresholds, type LoadContext } from './scenarios.ts';

export const options: Options = {
  scenarios: {
    redirect: { executor: 'constant-vus', vus: envNumber('VUS', 10), duration: __ENV.DURATION || '1m' },
  },
  thresholds: thresholds(['redirect']),
};

export function setup(): LoadContext {
  return uploadFixture(apiUrl(), sessionToken());
}

export default function (ctx: LoadContext): void {
  runSession(apiUrl(), redirectSession(ctx), { workload: 'redirect' });
}
