// The HTTP hooks take the head-sampling decision of non-critical root requests themselves when
// our default sampler is installed (so unsampled requests skip the SDK's span machinery); the
// decision must stay the sampler's: same ratio, no second roll, and any other sampler is asked.
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { SAMPLING_RATIO } from '../src/signals/index.ts';
import { createSampler, HEAD_SAMPLED_CONTEXT, rootRatioOf } from '../src/telemetry/sampler.ts';

const TRACE_ID = 'ffffffffffffffffffffffffffffffff'; // the ratio sampler never keeps this one below ratio 1

describe('head-sampling fast path', () => {
  it('knows the root ratio of our default sampler, per environment and with OTEL_TRACES_SAMPLER_ARG', () => {
    expect(rootRatioOf(createSampler('production', {}))).toBe(SAMPLING_RATIO.production);
    expect(rootRatioOf(createSampler('staging', {}))).toBe(SAMPLING_RATIO.staging);
    expect(rootRatioOf(createSampler('production', { OTEL_TRACES_SAMPLER_ARG: '0.5' }))).toBe(0.5);
  });

  it('leaves every standard OTEL_TRACES_SAMPLER to the SDK', () => {
    for (const name of ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']) {
      expect(rootRatioOf(createSampler('production', { OTEL_TRACES_SAMPLER: name, OTEL_TRACES_SAMPLER_ARG: '0.1' })), name).toBeUndefined();
    }
  });

  it('keeps a root span whose ratio decision was already taken, instead of rolling the ratio again', () => {
    const sampler = createSampler('production', { OTEL_TRACES_SAMPLER_ARG: '0' });
    const fresh = sampler.shouldSample(ROOT_CONTEXT, TRACE_ID, 'GET /api/videos', SpanKind.SERVER, {}, []);
    const decided = sampler.shouldSample(HEAD_SAMPLED_CONTEXT, TRACE_ID, 'GET /api/videos', SpanKind.SERVER, {}, []);
    expect(fresh.decision).toBe(SamplingDecision.NOT_RECORD);
    expect(decided.decision).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });
});

/** A W3C trace id and span id: lowercase hex of the right length, not all zeros. */
function expectValidIds(traceId: string, spanId: string): void {
  expect(traceId).toMatch(/^[0-9a-f]{32}$/);
  expect(spanId).toMatch(/^[0-9a-f]{16}$/);
  expect(traceId).not.toBe('0'.repeat(32));
  expect(spanId).not.toBe('0'.repeat(16));
}

/**
 * `count` draws gave `count` distinct trace ids and span ids, and bits uniform enough for ratio
 * sampling: the high nibble of the trace ids below 8 in strictly between `low[0]` and `low[1]` of them.
 */
function expectDistinctAndUniform(traceIds: Set<string>, spanIds: Set<string>, count: number, low: [number, number]): void {
  expect(traceIds.size).toBe(count);
  expect(spanIds.size).toBe(count);
  const below8 = [...traceIds].filter((t) => parseInt(t[0]!, 16) < 8).length;
  expect(below8).toBeGreaterThan(low[0]);
  expect(below8).toBeLessThan(low[1]);
}

describe('pooled ids', () => {
  it('keeps the pool strings small: ids held for a while pin no large object (promoted whole to the old generation)', async () => {
    const { getHeapSpaceStatistics } = await import('node:v8');
    const { PooledIdGenerator, rootContexts } = await import('../src/telemetry/ids.ts');
    const gen = new PooledIdGenerator();
    const largeObjects = () =>
      getHeapSpaceStatistics()
        .filter((s) => s.space_name === 'large_object_space' || s.space_name === 'new_large_object_space')
        .reduce((sum, s) => sum + s.space_used_size, 0);
    // Each id is a slice of its pool's hex string and keeps it alive, as an id held by a queued
    // span or an exemplar does. A pool string too big for a regular heap page (4096 trace ids:
    // 128 KiB) is a large object, promoted to the old generation whole at its first scavenge:
    // 20 held ids would pin 2.5 MB there.
    const before = largeObjects();
    const held: string[] = [];
    for (let i = 0; i < 20 * 4096; i++) {
      const id = gen.generateTraceId();
      if (i % 4096 === 0) held.push(id);
    }
    // The same for the header values of unsampled requests (slices of one pooled string).
    for (let i = 0; i < 20 * 4096; i++) {
      rootContexts.next();
      if (i % 4096 === 0) held.push(rootContexts.serverTiming);
    }
    expect(largeObjects() - before).toBeLessThan(1024 * 1024);
    expect(new Set(held).size).toBe(40);
  });

  it('gives the SDK valid, distinct W3C ids, also past a refill of the pool', async () => {
    const { PooledIdGenerator } = await import('../src/telemetry/ids.ts');
    const gen = new PooledIdGenerator();
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const t = gen.generateTraceId();
      const s = gen.generateSpanId();
      expectValidIds(t, s);
      traceIds.add(t);
      spanIds.add(s);
    }
    expectDistinctAndUniform(traceIds, spanIds, 10_000, [4500, 5500]);
  });

  it('draws an entry again when its trace or span id would be all zeros (invalid in W3C)', async () => {
    const { RootContextPool } = await import('../src/telemetry/ids.ts');
    const { randomFillSync } = await import('node:crypto');
    const calls: (number | undefined)[] = [];
    // The first draw of the pool is all zeros: every entry must be drawn again, on its own bytes.
    const fill = ((buf: Buffer, offset?: number, size?: number) => {
      calls.push(size);
      if (calls.length === 1) return buf.fill(0);
      return randomFillSync(buf, offset, size);
    }) as typeof randomFillSync;
    const pool = new RootContextPool(fill);
    const seen = new Set<string>();
    for (let i = 0; i < 256; i++) {
      pool.next();
      expectValidIds(pool.traceId, pool.spanId);
      expect(pool.serverTiming).toBe(`traceparent;desc="00-${pool.traceId}-${pool.spanId}-00"`);
      seen.add(pool.traceId);
    }
    expect(seen.size).toBe(256);
    expect(calls.length).toBe(1 + 256);
    expect(calls.slice(1).every((size) => size === 24)).toBe(true);
  });

  it('gives unsampled root requests valid, distinct ids and the header values that carry them, also past refills', async () => {
    const { rootContexts } = await import('../src/telemetry/ids.ts');
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      rootContexts.next();
      const { traceId, spanId, traceparent, serverTiming } = rootContexts;
      expectValidIds(traceId, spanId);
      expect(traceparent).toBe(`00-${traceId}-${spanId}-00`);
      expect(serverTiming).toBe(`traceparent;desc="${traceparent}"`);
      traceIds.add(traceId);
      spanIds.add(spanId);
    }
    expectDistinctAndUniform(traceIds, spanIds, 2000, [850, 1150]);
  });
});
