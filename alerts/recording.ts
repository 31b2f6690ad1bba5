// Recording rules: request, 5xx and within-objective rates per service and route class, for every
// window the alerts use. The burn-rate alerts over 1h, 6h and 3d read these instead of re-scanning
// raw histogram buckets at every evaluation; dashboards may read them too.
import {
  errorsRecordExpr,
  fastRecordExpr,
  recordedErrors,
  recordedFast,
  recordedRequests,
  recordingWindows,
  requestsRecordExpr,
} from '../src/signals/index.ts';
import type { RuleGroup } from './model.ts';

export function sloRecordingGroup(extraWindows: readonly string[] = []): RuleGroup {
  const windows = [...new Set([...recordingWindows(), ...extraWindows])];
  return {
    name: 'video-slo-recording',
    rules: windows.flatMap((w) => [
      { record: recordedRequests(w), expr: requestsRecordExpr(w) },
      { record: recordedErrors(w), expr: errorsRecordExpr(w) },
      { record: recordedFast(w), expr: fastRecordExpr(w) },
    ]),
  };
}
