// Preloaded (`--import`) by the `calibration` variant of `npm run bench:overhead`: a positive
// control for the CPU-per-request method. The service is the SDK-disabled baseline, plus a fixed
// amount of pure userland work before every HTTP request (BENCH_CALIBRATION_LOOP_ITERATIONS
// iterations of dependent integer arithmetic: no allocation, no syscall), run from Node's
// `http.server.request.start` diagnostics channel. What the bench then reads as its added kernel
// CPU is charged by the method, not by the work: on loopback the service's response write wakes
// wrk up from its own system call (docs/benchmarks.md, "Session 16").
import { subscribe } from 'node:diagnostics_channel';
import { BENCH_CALIBRATION_LOOP_ITERATIONS } from '../src/signals/index.ts';

let state = 1;
let runs = 0;

/** The calibration work: `iterations` steps of a linear congruential generator, kept in module state so V8 cannot drop it. */
export function calibrationWork(iterations: number = BENCH_CALIBRATION_LOOP_ITERATIONS): number {
  let x = state;
  for (let i = 0; i < iterations; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
  state = x;
  runs++;
  return x;
}

/** How many times the work ran in this process (tests). */
export function calibrationRuns(): number {
  return runs;
}

subscribe('http.server.request.start', () => {
  calibrationWork();
});
