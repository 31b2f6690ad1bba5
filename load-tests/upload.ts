// k6: uploads of generated MP4-shaped files of several sizes (LOAD_UPLOAD_SIZES_BYTES); every
// LOAD_UPLOAD_OVER_LIMIT_EVERY-th is over the service's UPLOAD_MAX_BYTES and must get 413.
//   k6 run -e SESSION_TOKEN=... -e UPLOAD_MAX_BYTES=16777216 load-tests/upload.ts
import exec from 'k6/execution';
import type { Options } from 'k6/options';
import { LOAD_UPLOAD_LIMIT_BYTES } from '../src/signals/index.ts';
import { apiUrl, envNumber, runSession, sessionToken } from './lib/k6-exec.ts';
import { thresholds, uploadSession, type LoadContext } from './scenarios.ts';

export const options: Options = {
  scenarios: {
    upload: { executor: 'constant-vus', vus: envNumber('VUS', 4), duration: __ENV.DURATION || '1m' },
  },
  thresholds: thresholds(['upload']),
};

export function setup(): LoadContext {
  // Uploads need no fixture video.
  return { token: sessionToken(), video: { path: '/api/videos/none.mp4', bytes: 1 }, uploadLimitBytes: envNumber('UPLOAD_MAX_BYTES', LOAD_UPLOAD_LIMIT_BYTES) };
}

export default function (ctx: LoadContext): void {
  runSession(apiUrl(), uploadSession(ctx, exec.scenario.iterationInTest), { workload: 'upload' });
}
