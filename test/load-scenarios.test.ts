// The request plans the k6 scripts execute (load-tests/scenarios.ts), executed once each with
// fetch against the live service (real s3rver, real Redis, the app from buildApp), checking the
// statuses and body sizes the plans expect. If a plan and the service disagree, k6 would report
// the service as failing: this test catches it without k6.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.ts';
import { signToken } from '../src/api/auth.ts';
import { loadApiConfig } from '../src/api/config.ts';
import { LOAD_UPLOAD_OVER_LIMIT_EVERY, MIXED_WEIGHTS, STREAM_ABORT_EVERY, STREAM_SEQUENTIAL_RANGES, type MixedKind } from '../src/signals/index.ts';
import {
  fixtureUpload,
  makeBody,
  mixedKind,
  mixedSession,
  redirectSession,
  smokeSession,
  streamSession,
  thresholds,
  uploadSession,
  type LoadContext,
  type UploadAnswer,
} from '../load-tests/scenarios.ts';
import { executePlan, executeSession, type StepResult } from '../bench/plan-exec.ts';
import { startRedis, type RedisHandle } from './harness/redis.ts';
import { startS3rver, type S3rverHandle } from './harness/s3rver.ts';

const SECRET = 'load-test-secret-0123456789';
/** Small sizes keep the test fast; the plans' shapes do not depend on them. */
const VIDEO_BYTES = 256 * 1024;
const RANGE_BYTES = 32 * 1024;
const UPLOAD_LIMIT = 512 * 1024;

let s3: S3rverHandle;
let redis: RedisHandle;
let app: FastifyInstance;
let base: string;
let ctx: LoadContext;

const problems = (results: StepResult[]) => results.flatMap((r) => r.problems);

beforeAll(async () => {
  [s3, redis] = await Promise.all([startS3rver(), startRedis()]);
  const config = loadApiConfig({
    SESSION_SECRET: SECRET,
    PORT: '0',
    METRICS_PORT: '0',
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_REGION: s3.region,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    REDIS_URL: redis.url,
    UPLOAD_MAX_BYTES: String(UPLOAD_LIMIT),
  });
  app = await buildApp(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const token = signToken('load-tester', SECRET);
  const [res] = await executePlan(base, fixtureUpload(token, VIDEO_BYTES));
  expect(res?.problems).toEqual([]);
  const answer = JSON.parse(res?.text ?? '{}') as UploadAnswer;
  expect(answer.url).toMatch(/^\/api\/videos\/[^/]+\.mp4$/);
  ctx = { token, video: { path: answer.url, bytes: VIDEO_BYTES }, uploadLimitBytes: UPLOAD_LIMIT, rangeBytes: RANGE_BYTES, uploadSizes: [16 * 1024, 200 * 1024] };
});

afterAll(async () => {
  await app?.close();
  await Promise.all([s3?.stop(), redis?.stop()]);
});

describe('load-test scenarios against the live service', () => {
  it('smoke: every path answers exactly the status the plan expects (200, 206, 416, 302 + S3 206, 401, 201, 413)', async () => {
    const results = await executeSession(base, smokeSession(ctx));
    expect(problems(results)).toEqual([]);
    expect(results.map((r) => `${r.step} ${r.status}`)).toEqual([
      'api.healthz 200',
      'stream.first_range 206',
      'stream.unsatisfiable 416',
      'redirect.presign 302',
      'redirect.s3_download 206',
      'stream.unauthorized 401',
      'upload.accepted 201',
      'upload.over_limit 413',
    ]);
  });

  it('stream: a player session reads the first range, sequential ranges and a seek, each 206 with exactly the range bytes', async () => {
    const results = await executeSession(base, streamSession(ctx, 0));
    expect(problems(results)).toEqual([]);
    expect(results.map((r) => r.step)).toEqual(['stream.first_range', ...Array(STREAM_SEQUENTIAL_RANGES).fill('stream.sequential_range'), 'stream.seek']);
    for (const r of results) {
      expect(r.status).toBe(206);
      expect(r.bytes).toBe(RANGE_BYTES);
    }
  });

  it('stream: an aborting player stops mid-range and the service keeps serving the next player', async () => {
    const results = await executeSession(base, streamSession(ctx, STREAM_ABORT_EVERY - 1));
    expect(problems(results)).toEqual([]);
    const aborted = results.find((r) => r.step === 'stream.aborted_read');
    expect(aborted?.aborted).toBe(true);
    expect(aborted?.bytes).toBeLessThan(VIDEO_BYTES);
    const next = await executeSession(base, streamSession(ctx, 1));
    expect(problems(next)).toEqual([]);
  });

  it('redirect: the presigned 302 leads to the object in S3 without our credentials', async () => {
    const results = await executeSession(base, redirectSession(ctx));
    expect(problems(results)).toEqual([]);
    expect(results.map((r) => r.status)).toEqual([302, 206]);
    expect(results[0]?.headers.get('location')).toContain('X-Amz-Signature=');
    expect(results[1]?.bytes).toBe(RANGE_BYTES);
  });

  it('upload: generated files of several sizes are stored (201) and the over-limit one is refused (413)', async () => {
    const iterations = Array.from({ length: LOAD_UPLOAD_OVER_LIMIT_EVERY }, (_, i) => i);
    const results: StepResult[] = [];
    for (const i of iterations) results.push(...(await executeSession(base, uploadSession(ctx, i))));
    expect(problems(results)).toEqual([]);
    expect(results.filter((r) => r.status === 413)).toHaveLength(1);
    expect(results.filter((r) => r.status === 201)).toHaveLength(LOAD_UPLOAD_OVER_LIMIT_EVERY - 1);
    const stored = results.filter((r) => r.status === 201).map((r) => JSON.parse(r.text ?? '{}') as UploadAnswer & { size: number });
    expect(new Set(stored.map((s) => s.size))).toEqual(new Set([16 * 1024, 200 * 1024]));
  });

  it('mixed: one iteration of every kind in the blend, and the first 10 iterations, all get their expected answers', async () => {
    const firstOfKind = new Map<MixedKind, number>();
    for (let i = 0; i < 1000 && firstOfKind.size < Object.keys(MIXED_WEIGHTS).length; i++) {
      if (!firstOfKind.has(mixedKind(i))) firstOfKind.set(mixedKind(i), i);
    }
    expect([...firstOfKind.keys()].sort()).toEqual(Object.keys(MIXED_WEIGHTS).sort());
    const iterations = new Set([...firstOfKind.values(), ...Array.from({ length: 10 }, (_, i) => i)]);
    const statuses = new Set<number>();
    for (const i of iterations) {
      const results = await executeSession(base, mixedSession(ctx, i));
      expect(problems(results)).toEqual([]);
      for (const r of results) statuses.add(r.status);
    }
    expect([...statuses].sort()).toEqual(expect.arrayContaining([200, 201, 206, 302, 401]));
  });
});

describe('scenario module', () => {
  it('generates MP4-shaped upload bodies (ftyp box) of exactly the requested size, deterministically', () => {
    const a = makeBody({ bytes: 4096, seed: 3 });
    expect(a.length).toBe(4096);
    expect(new TextDecoder().decode(a.slice(4, 8))).toBe('ftyp');
    expect(makeBody({ bytes: 4096, seed: 3 })).toEqual(a);
    expect(makeBody({ bytes: 4096, seed: 4 })).not.toEqual(a);
  });

  it('picks mixed kinds in proportion to MIXED_WEIGHTS', () => {
    const n = 20_000;
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) counts[mixedKind(i)] = (counts[mixedKind(i)] ?? 0) + 1;
    for (const [kind, w] of Object.entries(MIXED_WEIGHTS)) expect(Math.abs((counts[kind] ?? 0) / n - w)).toBeLessThan(0.015);
  });

  it('takes k6 thresholds from src/signals (P95 objective per route class in ms, error ratio)', () => {
    expect(thresholds(['stream', 'redirect'])).toEqual({
      load_unexpected_responses: ['rate<0.05'],
      'http_req_duration{route_class:stream,expected_response:true}': ['p(95)<1000'],
      'http_req_duration{route_class:redirect,expected_response:true}': ['p(95)<100'],
    });
  });
});
