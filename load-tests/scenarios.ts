// The scenario module shared by the k6 scripts (load-tests/*.ts, executed with k6/http) and the
// Node side (bench/overhead.ts and test/load-scenarios.test.ts, executed with fetch). It only
// builds pure request plans: method, path, headers, body spec and the statuses each request may
// answer. No k6 and no Node imports here, so both runtimes load it unchanged.
import {
  ERROR_RATIO_THRESHOLD,
  HTTP_LABELS,
  K6_UNEXPECTED_METRIC,
  LATENCY_OBJECTIVE_SECONDS,
  LOAD_UPLOAD_LIMIT_BYTES,
  LOAD_UPLOAD_OVER_LIMIT_EVERY,
  LOAD_UPLOAD_SIZES_BYTES,
  MIXED_WEIGHTS,
  ROUTES,
  STREAM_ABORT_AFTER_BYTES,
  STREAM_ABORT_EVERY,
  STREAM_RANGE_BYTES,
  STREAM_SEQUENTIAL_RANGES,
  type MixedKind,
  type RouteClass,
} from '../src/signals/index.ts';

/** What a generated request body is: `bytes` long, MP4-shaped (an `ftyp` box, then seeded noise). */
export interface BodySpec {
  bytes: number;
  seed: number;
}

/** A follow-up request to the `Location` of the previous response (the presigned redirect). */
export interface FollowPlan {
  step: string;
  headers: Record<string, string>;
  expectStatus: readonly number[];
  expectBodyBytes?: number;
}

/** One HTTP request and what a correct answer looks like. */
export interface RequestPlan {
  /** Stable step name (`stream.first_range`...): the k6 `step` tag and the key in reports. */
  step: string;
  /** Route class of the service route this request hits (k6 tag, P95 objective). */
  routeClass: RouteClass;
  method: 'GET' | 'POST';
  /** Path and query, relative to the service base URL. */
  path: string;
  headers: Record<string, string>;
  body?: BodySpec;
  /** Statuses that count as success (everything else is a failed request). */
  expectStatus: readonly number[];
  /** Exact body length of a correct answer, when it is known in advance. */
  expectBodyBytes?: number;
  /** The client stops reading after this many body bytes and closes the connection. */
  abortAfterBytes?: number;
  /** Then GET the response's Location (without our credentials: it is a presigned URL). */
  follow?: FollowPlan;
}

/** What the plans need to know about the running service. */
export interface LoadContext {
  /** Session token (`npm run token -- <user>`); k6 reads it from the SESSION_TOKEN env. */
  token: string;
  /** The test video: its URL path (`/api/videos/<id>.<ext>`, from the upload answer) and size. */
  video: { path: string; bytes: number };
  /** The service's UPLOAD_MAX_BYTES. */
  uploadLimitBytes: number;
  /** Upload sizes to cycle through (defaults to LOAD_UPLOAD_SIZES_BYTES). */
  uploadSizes?: readonly number[];
  /** Range size of stream requests (defaults to STREAM_RANGE_BYTES). */
  rangeBytes?: number;
}

/** Answer of POST /api/upload/stream (201). */
export interface UploadAnswer {
  id: string;
  url: string;
}

export const DEFAULT_UPLOAD_LIMIT_BYTES = LOAD_UPLOAD_LIMIT_BYTES;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness: the same iteration number gives the same plan in k6 and in Node.

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The bytes of a generated body: an ISO-BMFF `ftyp` box (sniffed as video/mp4), then noise. */
export function makeBody(spec: BodySpec): Uint8Array {
  const out = new Uint8Array(spec.bytes);
  // [size=24]['ftyp']['isom'][minor=0x200]['isom']['mp41']
  const header = [0, 0, 0, 24, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0, 0, 2, 0, 0x69, 0x73, 0x6f, 0x6d, 0x6d, 0x70, 0x34, 0x31];
  const n = Math.min(header.length, out.length);
  for (let i = 0; i < n; i++) out[i] = header[i] ?? 0;
  // Noise in 32-bit words: fast enough for k6 (goja) to build a few MiB once per VU.
  let x = (spec.seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = n; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const rangeHeader = (start: number, end: number) => `bytes=${start}-${end}`;
const streamPath = (ctx: LoadContext) => `${ctx.video.path}?delivery=stream`;
const redirectPath = (ctx: LoadContext) => `${ctx.video.path}?delivery=redirect`;

// ---------------------------------------------------------------------------------------------
// Single requests (the building blocks; the bench drives each of these alone).

export function healthz(): RequestPlan {
  return { step: 'api.healthz', routeClass: 'internal', method: 'GET', path: ROUTES.healthz, headers: {}, expectStatus: [200] };
}

/** One proxied range of the test video (206 with exactly the range's bytes). */
export function streamRange(ctx: LoadContext, start: number, length: number, step = 'stream.range'): RequestPlan {
  const end = Math.min(start + length, ctx.video.bytes) - 1;
  return {
    step,
    routeClass: 'stream',
    method: 'GET',
    path: streamPath(ctx),
    headers: { ...auth(ctx.token), range: rangeHeader(start, end) },
    expectStatus: [206],
    expectBodyBytes: end - start + 1,
  };
}

/** A range that starts beyond the end of the video (416 + `bytes * /size`). */
export function unsatisfiableRange(ctx: LoadContext): RequestPlan {
  return {
    step: 'stream.unsatisfiable',
    routeClass: 'stream',
    method: 'GET',
    path: streamPath(ctx),
    headers: { ...auth(ctx.token), range: rangeHeader(ctx.video.bytes + 100, ctx.video.bytes + 200) },
    expectStatus: [416],
  };
}

/** The presigned redirect (302), then the object download from S3 as a player would (first range). */
export function redirect(ctx: LoadContext): RequestPlan {
  const length = Math.min(ctx.rangeBytes ?? STREAM_RANGE_BYTES, ctx.video.bytes);
  return {
    step: 'redirect.presign',
    routeClass: 'redirect',
    method: 'GET',
    path: redirectPath(ctx),
    headers: auth(ctx.token),
    expectStatus: [302],
    follow: {
      step: 'redirect.s3_download',
      headers: { range: rangeHeader(0, length - 1) },
      expectStatus: [206],
      expectBodyBytes: length,
    },
  };
}

/** A video request without a session: 401, the expired-tab case. */
export function unauthorized(ctx: LoadContext): RequestPlan {
  return { step: 'stream.unauthorized', routeClass: 'stream', method: 'GET', path: streamPath(ctx), headers: {}, expectStatus: [401] };
}

/** One upload of `bytes` (201 under the limit, 413 over it). */
export function upload(ctx: LoadContext, bytes: number, seed: number): RequestPlan {
  const over = bytes > ctx.uploadLimitBytes;
  return {
    step: over ? 'upload.over_limit' : 'upload.accepted',
    routeClass: 'upload',
    method: 'POST',
    path: `${ROUTES.uploadStream}?filename=load-${seed}.mp4`,
    headers: { ...auth(ctx.token), 'content-type': 'application/octet-stream' },
    body: { bytes, seed },
    expectStatus: over ? [413] : [201],
  };
}

// ---------------------------------------------------------------------------------------------
// Workloads: what one iteration (one virtual user's visit) does.

/**
 * A player session: the first range, sequential ranges, one seek; one session in
 * STREAM_ABORT_EVERY reads a little of a large range and goes away instead of seeking.
 */
export function streamSession(ctx: LoadContext, iteration: number): RequestPlan[] {
  const r = rng(iteration + 1);
  const range = Math.min(ctx.rangeBytes ?? STREAM_RANGE_BYTES, ctx.video.bytes);
  const plans: RequestPlan[] = [streamRange(ctx, 0, range, 'stream.first_range')];
  for (let i = 1; i <= STREAM_SEQUENTIAL_RANGES; i++) {
    const start = (i * range) % ctx.video.bytes;
    plans.push(streamRange(ctx, start, range, 'stream.sequential_range'));
  }
  if (iteration % STREAM_ABORT_EVERY === STREAM_ABORT_EVERY - 1) {
    // The whole rest of the file, abandoned after a few KiB: the service must release S3.
    const abort = streamRange(ctx, 0, ctx.video.bytes, 'stream.aborted_read');
    delete abort.expectBodyBytes;
    abort.abortAfterBytes = Math.min(STREAM_ABORT_AFTER_BYTES, Math.max(1, ctx.video.bytes - 1));
    plans.push(abort);
  } else {
    const seekTo = Math.floor(r() * Math.max(1, ctx.video.bytes - range));
    plans.push(streamRange(ctx, seekTo, range, 'stream.seek'));
  }
  return plans;
}

export function redirectSession(ctx: LoadContext): RequestPlan[] {
  return [redirect(ctx)];
}

/** Upload sizes cycle; every LOAD_UPLOAD_OVER_LIMIT_EVERY-th upload is over the limit. */
export function uploadSession(ctx: LoadContext, iteration: number): RequestPlan[] {
  if (iteration % LOAD_UPLOAD_OVER_LIMIT_EVERY === LOAD_UPLOAD_OVER_LIMIT_EVERY - 1) {
    return [upload(ctx, ctx.uploadLimitBytes + 1024 * 1024, iteration)];
  }
  const sizes = ctx.uploadSizes ?? LOAD_UPLOAD_SIZES_BYTES;
  return [upload(ctx, sizes[iteration % sizes.length] ?? 1024, iteration)];
}

/** Which kind a mixed iteration is, by MIXED_WEIGHTS (deterministic per iteration). */
export function mixedKind(iteration: number): MixedKind {
  const x = rng(iteration * 7919 + 17)();
  let acc = 0;
  const kinds = Object.keys(MIXED_WEIGHTS) as MixedKind[];
  for (const kind of kinds) {
    acc += MIXED_WEIGHTS[kind];
    if (x < acc) return kind;
  }
  return kinds[kinds.length - 1] ?? 'stream';
}

export function mixedSession(ctx: LoadContext, iteration: number): RequestPlan[] {
  switch (mixedKind(iteration)) {
    case 'stream':
      return streamSession(ctx, iteration);
    case 'redirect':
      return redirectSession(ctx);
    case 'upload':
      return uploadSession(ctx, iteration);
    case 'unauthorized':
      return [unauthorized(ctx)];
    case 'api':
      return [healthz()];
  }
}

/** Smoke: every path once, each with its one correct answer. */
export function smokeSession(ctx: LoadContext): RequestPlan[] {
  const sizes = ctx.uploadSizes ?? LOAD_UPLOAD_SIZES_BYTES;
  return [
    healthz(),
    streamRange(ctx, 0, Math.min(ctx.rangeBytes ?? STREAM_RANGE_BYTES, ctx.video.bytes), 'stream.first_range'),
    unsatisfiableRange(ctx),
    redirect(ctx),
    unauthorized(ctx),
    upload(ctx, sizes[0] ?? 1024, 1),
    upload(ctx, ctx.uploadLimitBytes + 1024, 2),
  ];
}

/** The upload k6 setup() (and the Node tests) make first, so the plans have a video to read. */
export function fixtureUpload(token: string, bytes: number): RequestPlan {
  return {
    step: 'setup.fixture_upload',
    routeClass: 'upload',
    method: 'POST',
    path: `${ROUTES.uploadStream}?filename=load-fixture.mp4`,
    headers: { ...auth(token), 'content-type': 'application/octet-stream' },
    body: { bytes, seed: 424242 },
    expectStatus: [201],
  };
}

// ---------------------------------------------------------------------------------------------
// k6 thresholds, from src/signals/ only.

/**
 * Thresholds for k6 `options.thresholds`: P95 of each route class's expected answers under its
 * objective (LATENCY_OBJECTIVE_SECONDS), and the share of answers with a status the plan does not
 * expect under ERROR_RATIO_THRESHOLD (401, 413, 416 are expected where the plans ask for them).
 */
export function thresholds(routeClasses: readonly RouteClass[]): Record<string, string[]> {
  const out: Record<string, string[]> = { [K6_UNEXPECTED_METRIC]: [`rate<${ERROR_RATIO_THRESHOLD}`] };
  for (const rc of routeClasses) {
    out[`http_req_duration{${HTTP_LABELS.routeClass}:${rc},expected_response:true}`] = [`p(95)<${LATENCY_OBJECTIVE_SECONDS[rc] * 1000}`];
  }
  return out;
}
