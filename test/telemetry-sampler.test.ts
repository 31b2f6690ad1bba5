// Head sampling: per-environment ratios, critical routes and requests always kept, parent-based
// behaviour, and the standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG overrides.
import { context, ROOT_CONTEXT, SpanKind, trace, TraceFlags, type Attributes, type Context } from '@opentelemetry/api';
import { SamplingDecision, type Sampler } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { ALWAYS_SAMPLED_ROUTES, ENVIRONMENTS, ROUTES, SAMPLING_RATIO } from '../src/signals/index.ts';
import { createSampler } from '../src/telemetry/sampler.ts';

const N = 4000;
/** Deterministic pseudo-random trace ids (xorshift), so ratios are stable across runs. */
function* traceIds(n: number): Generator<string> {
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    let id = '';
    for (let j = 0; j < 4; j++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      id += (x >>> 0).toString(16).padStart(8, '0');
    }
    yield id;
  }
}

function sampledShare(sampler: Sampler, attributes: Attributes, ctx: Context = ROOT_CONTEXT): number {
  let kept = 0;
  for (const id of traceIds(N)) {
    if (sampler.shouldSample(ctx, id, 'GET /x', SpanKind.SERVER, attributes, []).decision === SamplingDecision.RECORD_AND_SAMPLED) kept++;
  }
  return kept / N;
}

function parent(sampled: boolean): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
}

const ordinary = { 'http.route': ROUTES.videoList, 'http.request.method': 'GET' };

describe('sampler', () => {
  it.each(ENVIRONMENTS)('keeps about SAMPLING_RATIO[%s] of ordinary root spans', (env) => {
    const share = sampledShare(createSampler(env, {}), ordinary);
    expect(share).toBeGreaterThanOrEqual(SAMPLING_RATIO[env] - 0.03);
    expect(share).toBeLessThanOrEqual(SAMPLING_RATIO[env] + 0.03);
  });

  it('samples 10 % in production, not 100 %', () => {
    expect(SAMPLING_RATIO.production).toBe(0.1);
    expect(sampledShare(createSampler('production', {}), ordinary)).toBeLessThan(0.15);
  });

  it.each(ALWAYS_SAMPLED_ROUTES)('always samples the critical route %s in production', (route) => {
    expect(sampledShare(createSampler('production', {}), { 'http.route': route })).toBe(1);
  });

  it('always samples a request flagged critical (sampling.priority) in production', () => {
    expect(sampledShare(createSampler('production', {}), { ...ordinary, 'sampling.priority': 1 })).toBe(1);
  });

  it('follows a sampled remote parent and drops under an unsampled one, whatever the route', () => {
    const s = createSampler('production', {});
    expect(sampledShare(s, ordinary, parent(true))).toBe(1);
    expect(sampledShare(s, { 'http.route': ROUTES.uploadStream }, parent(false))).toBe(0);
  });

  it('keeps children of a sampled local span (parent-based)', () => {
    const s = createSampler('production', {});
    const ctx = trace.setSpanContext(context.active(), { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: false });
    expect(s.shouldSample(ctx, '0af7651916cd43dd8448eb211c80319c', 'child', SpanKind.INTERNAL, {}, []).decision).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });

  it('honours OTEL_TRACES_SAMPLER=always_off (even critical routes) and always_on', () => {
    expect(sampledShare(createSampler('development', { OTEL_TRACES_SAMPLER: 'always_off' }), { 'http.route': ROUTES.uploadStream })).toBe(0);
    expect(sampledShare(createSampler('production', { OTEL_TRACES_SAMPLER: 'always_on' }), ordinary)).toBe(1);
  });

  it('honours OTEL_TRACES_SAMPLER=parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG', () => {
    const s = createSampler('development', { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' });
    const share = sampledShare(s, ordinary);
    expect(share).toBeGreaterThan(0.46);
    expect(share).toBeLessThan(0.54);
    expect(sampledShare(s, ordinary, parent(true))).toBe(1);
  });

  it('uses OTEL_TRACES_SAMPLER_ARG alone as the ratio while keeping critical routes', () => {
    const s = createSampler('production', { OTEL_TRACES_SAMPLER_ARG: '0' });
    expect(sampledShare(s, ordinary)).toBe(0);
    expect(sampledShare(s, { 'http.route': ROUTES.uploadStream })).toBe(1);
    expect(sampledShare(createSampler('production', { OTEL_TRACES_SAMPLER_ARG: '1' }), ordinary)).toBe(1);
  });

  it('ignores an invalid OTEL_TRACES_SAMPLER_ARG and keeps the environment ratio', () => {
    const share = sampledShare(createSampler('staging', { OTEL_TRACES_SAMPLER_ARG: 'lots' }), ordinary);
    expect(Math.abs(share - SAMPLING_RATIO.staging)).toBeLessThan(0.03);
  });
});
