// Load-test and benchmark numbers (owner: LOAD engineer): workload shapes (range sizes, upload
// sizes, the traffic mix), the synthetic rate compose runs, and the per-request CPU targets of
// issue 6. Scenario-independent budgets (OVERHEAD_BUDGET_RATIO, LATENCY_OBJECTIVE_SECONDS,
// ERROR_RATIO_THRESHOLD) live in slo.ts; k6 remote-write series names live in k6.ts.
// No Node imports: k6 scripts and the Node benchmark both import this file.

/** Workloads shared by the k6 scripts and `npm run bench:overhead` (load-tests/scenarios.ts). */
export const LOAD_WORKLOADS = ['stream', 'redirect', 'upload', 'api', 'mixed', 'smoke', 'synthetic'] as const;
export type LoadWorkload = (typeof LOAD_WORKLOADS)[number];

/** The two services an overhead run compares; also the value of the `variant` tag. */
export const LOAD_VARIANTS = ['baseline', 'instrumented'] as const;
export type LoadVariant = (typeof LOAD_VARIANTS)[number];

/** k6 tag keys (k6 remote-writes tags as Prometheus labels, so they follow label naming). */
export const LOAD_TAGS = { variant: 'variant', workload: 'workload', step: 'step' } as const;

/** Player range size: players fetch 1-8 MiB chunks; 1 MiB is the smallest common case. */
export const STREAM_RANGE_BYTES = 1024 * 1024;
/** Ranges a player reads in order after the first one, before it seeks. */
export const STREAM_SEQUENTIAL_RANGES = 2;
/** One player session in this many stops reading mid-range (tab closed, seek while buffering). */
export const STREAM_ABORT_EVERY = 10;
/** Bytes an aborting player reads before it goes away (Node executor). */
export const STREAM_ABORT_AFTER_BYTES = 16 * 1024;
/**
 * k6 cannot stop reading a body mid-way, so its aborted read is a request that gives up after
 * this client timeout (the Node executor aborts after STREAM_ABORT_AFTER_BYTES instead).
 */
export const K6_ABORTED_READ_TIMEOUT = '100ms';
/** k6 metric (a Rate) of answers whose status is not the plan's: the error-ratio threshold's input. */
export const K6_UNEXPECTED_METRIC = 'load_unexpected_responses';

/** Size of the test video k6 setup() uploads: 8 player ranges, more than one multipart part. */
export const LOAD_VIDEO_BYTES = 8 * 1024 * 1024;

/**
 * Upload size limit the load-test service runs with (UPLOAD_MAX_BYTES): low, so "over the limit"
 * uploads are cheap to generate; the scripts read the real value from the UPLOAD_MAX_BYTES env.
 */
export const LOAD_UPLOAD_LIMIT_BYTES = 16 * 1024 * 1024;
/** Upload sizes cycled by the upload workload: tiny, one part, several parts. */
export const LOAD_UPLOAD_SIZES_BYTES = [64 * 1024, 1024 * 1024, 6 * 1024 * 1024] as const;
/** One upload in this many is over the limit (expects 413, nothing stored). */
export const LOAD_UPLOAD_OVER_LIMIT_EVERY = 8;

/**
 * The mixed workload: share of iterations per kind. Mostly watching, some redirects (CDN-style
 * players), few uploads, a few requests without a session (expired tabs: 401), health checks.
 */
export const MIXED_WEIGHTS = {
  stream: 0.6,
  redirect: 0.2,
  upload: 0.05,
  unauthorized: 0.05,
  api: 0.1,
} as const;
export type MixedKind = keyof typeof MIXED_WEIGHTS;

/** Iterations per second of the synthetic traffic compose runs forever (every panel stays live). */
export const SYNTHETIC_RATE_PER_SECOND = 2;

/** k6 per-request timeout: above the largest latency objective, so slow answers are measured, not cut. */
export const LOAD_REQUEST_TIMEOUT = '60s';

// Benchmark (bench/overhead.ts) settings and the targets issue 6 sets.

/** Latency the benchmark's TCP proxy in front of the S3 server adds to each direction, ms (drawn per message: each request and each response). */
export const BENCH_S3_DELAY_MS = { min: 5, max: 20 } as const;
/** Range size of the benchmark's proxied stream workload (issue 6: a 64 KiB ranged response). */
export const BENCH_STREAM_RANGE_BYTES = 64 * 1024;
/** Size of the benchmark's small upload. */
export const BENCH_UPLOAD_BYTES = 64 * 1024;
/**
 * Iterations of dependent integer arithmetic the benchmark's `calibration` variant runs before
 * every request (bench/calibration-register.ts): pure userland work of a few µs, about what the
 * unsampled path adds, as a positive control for the CPU-per-request method.
 */
export const BENCH_CALIBRATION_LOOP_ITERATIONS = 1300;
/** Added CPU per request allowed at the production profile on the cheapest traced endpoint, µs. */
export const CPU_OVERHEAD_TARGET_US_PRODUCTION = 10;
/** Added CPU per request allowed at 100 % sampling on the cheapest traced endpoint, µs. */
export const CPU_OVERHEAD_TARGET_US_FULL_SAMPLING = 30;
