// The span encoder writes the bytes the stock OTLP serializer writes, and the encoding batch
// processor keeps the stock batch processor's rules (bounded queue, batch size, timer, flush,
// shutdown) and counts what it drops, against a real OTLP receiver.
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Link } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { SPAN_EXPORT_BYTES, SPAN_EXPORT_ERRORS, SPANS_DROPPED, SPANS_EXPORTED } from '../src/signals/index.ts';
import { createOtlpSpanProcessor } from '../src/telemetry/exporter.ts';
import { registry } from '../src/telemetry/metrics.ts';
import { EncodedBatch } from '../src/telemetry/otlp-span-encoder.ts';
import { startOtlpReceiver } from './harness/otlp-receiver.ts';

async function counter(name: string): Promise<number> {
  const m = registry.getSingleMetric(name.replace(/_total$/, '')) ?? registry.getSingleMetric(name);
  if (!m) return 0;
  const v = await m.get();
  return v.values.reduce((s, x) => s + x.value, 0);
}

/** Finished spans covering every field the encoder writes. */
function variedSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'video-api', 'service.version': '1.2.3', 'host.cpus': 2, 'process.pid': 4242 }),
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
    spanLimits: { attributeCountLimit: 200, attributeValueLengthLimit: 100_000, eventCountLimit: 5 },
  });
  const a = provider.getTracer('video-api', '0.1.0');
  const b = provider.getTracer('@opentelemetry/instrumentation-pg', '0.77.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
  const c = provider.getTracer('no-version');
  const attrs: Attributes = {
    'http.request.method': 'GET',
    'http.route': '/api/videos/:filename',
    'url.path': '/api/videos/caf\u00e9-\u{1F3AC}.mp4',
    'user_agent.original': 'x'.repeat(300),
    'http.response.status_code': 206,
    'video.bytes': 2 ** 40 + 17,
    'negative': -5,
    'ratio': 0.125,
    'flag': true,
    'off': false,
    'tags': ['a', 'b\u00e9'],
    'sizes': [1, 2, 3.5],
    'bools': [true, false],
    'empty': [],
    'big': 'y'.repeat(20_000),
  };
  const parent = a.startSpan('GET /api/videos/:filename', { kind: SpanKind.SERVER, attributes: attrs }, ROOT_CONTEXT);
  const parentCtx = trace.setSpan(ROOT_CONTEXT, parent);
  const link: Link = {
    context: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, isRemote: true, traceState: new TraceState('vendor=1,other=two') },
    attributes: { 'link.reason': 'queue', n: 3 },
    droppedAttributesCount: 2,
  };
  const child = b.startSpan('SELECT videos', { kind: SpanKind.CLIENT, links: [link, { context: parent.spanContext() }] }, parentCtx);
  child.addEvent('rows', { count: 12, 'db.rows.names': ['a', 'b'] });
  child.addEvent('no attributes');
  child.recordException(new Error('boom \u2013 failed'));
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'query failed \u00e9' });
  child.end();
  // A remote parent with a trace state, and span kinds without a default.
  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('congo=t61rcWkgMzE'),
  });
  for (const kind of [SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER]) {
    const s = c.startSpan(`kind ${kind}`, { kind }, remote);
    for (let i = 0; i < 8; i++) s.addEvent(`e${i}`); // beyond eventCountLimit: droppedEventsCount
    s.setStatus({ code: SpanStatusCode.OK });
    s.end([1_700_000_000, 999_999_999]);
  }
  // Many attributes (a span longer than 16 KiB and than one scope buffer's first allocation).
  const wide = a.startSpan('wide', {}, parentCtx);
  for (let i = 0; i < 150; i++) wide.setAttribute(`attr.${i}`, i % 2 ? `value ${i} ${'z'.repeat(i)}` : i * 1_000_003);
  wide.end();
  parent.end();
  context.disable();
  return memory.getFinishedSpans();
}

function encode(spans: ReadableSpan[]): Uint8Array {
  const batch = new EncodedBatch();
  for (const s of spans) batch.add(s);
  return batch.finish();
}

describe('OTLP span encoder', () => {
  it('writes the stock serializer bytes, span by span, for every field and value type', () => {
    const spans = variedSpans();
    expect(spans.length).toBe(6);
    const stock = ProtobufTraceSerializer.serializeRequest(spans);
    expect(stock).toBeDefined();
    const ours = encode(spans);
    expect(ours.byteLength).toBe(stock!.byteLength);
    expect(Buffer.from(ours).equals(Buffer.from(stock!))).toBe(true);
    // Spans of several scopes interleaved: grouped by scope in order of first appearance.
    const mixed = [spans[5]!, spans[1]!, spans[2]!, spans[0]!, spans[3]!, spans[4]!];
    expect(Buffer.from(encode(mixed)).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(mixed)!))).toBe(true);
  });

  it('leaves no part of a span that fails to encode in its batch', () => {
    const spans = variedSpans();
    const batch = new EncodedBatch();
    batch.add(spans[0]!);
    const broken = Object.create(spans[1]!, {
      events: {
        get() {
          throw new Error('broken span');
        },
      },
    }) as ReadableSpan;
    expect(() => batch.add(broken)).toThrow('broken span');
    batch.add(spans[2]!);
    expect(batch.count).toBe(2);
    // spans[1] and spans[2] share a scope: the batch is exactly the two good spans.
    expect(spans[1]!.instrumentationScope).toBe(spans[2]!.instrumentationScope);
    // An id that is not hex (no SDK makes one) is refused, not written as a short field.
    const badId = Object.create(spans[2]!, { spanContext: { value: () => ({ ...spans[2]!.spanContext(), spanId: '00f067aa0ba902zz' }) } }) as ReadableSpan;
    expect(() => batch.add(badId)).toThrow('not a hex id: "00f067aa0ba902zz"');
    expect(batch.count).toBe(2);
    const expected = ProtobufTraceSerializer.serializeRequest([spans[0]!, spans[2]!])!;
    expect(Buffer.from(batch.finish()).equals(Buffer.from(expected))).toBe(true);
  });

  it('reuses span buffers across batches without touching a finished request, and finishes a batch once', () => {
    const spans = variedSpans();
    const stock = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
    const first = encode(spans);
    const firstCopy = Buffer.from(first);
    // Later batches take the first one's span buffers from the pool and overwrite them.
    for (const order of [[5, 4, 3, 2, 1, 0], [2, 0, 1], [0, 1, 2, 3, 4, 5]]) {
      const some = order.map((i) => spans[i]!);
      expect(Buffer.from(encode(some)).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(some)!))).toBe(true);
    }
    expect(Buffer.from(first).equals(firstCopy)).toBe(true);
    expect(firstCopy.equals(stock)).toBe(true);
    const batch = new EncodedBatch();
    batch.add(spans[0]!);
    batch.finish();
    expect(() => batch.finish()).toThrow('this batch was already finished');
    expect(() => batch.add(spans[1]!)).toThrow('this batch was already finished');
  });

  it('writes names past its name cache (long, non-ASCII, more than it keeps) as the stock serializer does', () => {
    const memory = new InMemorySpanExporter();
    const provider = new TracerProvider({
      spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
      spanLimits: { attributeCountLimit: 5000 },
    });
    const tracer = provider.getTracer('names');
    const span = tracer.startSpan(`span ${'n'.repeat(300)} \u00e9\u{1F3AC}`, {}, ROOT_CONTEXT);
    span.setAttribute(`key.${'k'.repeat(200)}`, 'long key');
    span.setAttribute('cl\u00e9.\u{1F3AC}', 'non-ASCII key');
    // Short enough to cache, too long together for one-byte lengths: the general path.
    span.setAttribute(`m${'m'.repeat(99)}`, 'v'.repeat(40));
    span.setAttribute('euro', '\u20ac'.repeat(40));
    span.setAttribute('big.int', 2 ** 32);
    span.setAttribute('neg.zero', -0);
    // More distinct keys than the cache keeps (1024): the ones past it are written directly.
    for (let i = 0; i < 1500; i++) span.setAttribute(`many.${i}`, i);
    span.addEvent(`\u00e9v\u00e9nement ${'e'.repeat(150)}`, { 'cl\u00e9.\u{1F3AC}': 1 });
    span.end();
    const again = tracer.startSpan(`span ${'n'.repeat(300)} \u00e9\u{1F3AC}`, { attributes: { 'many.1499': 'cached or not' } }, ROOT_CONTEXT);
    again.end();
    const finished = memory.getFinishedSpans();
    expect(Object.keys(finished[0]!.attributes).length).toBe(1506);
    const stock = ProtobufTraceSerializer.serializeRequest(finished)!;
    expect(Buffer.from(encode(finished)).equals(Buffer.from(stock))).toBe(true);
    // A second pass reads whatever the first one cached.
    expect(Buffer.from(encode(finished)).equals(Buffer.from(stock))).toBe(true);
  });
});

describe('encoding batch span processor', () => {
  it('sends every span to the collector in batches of maxExportBatchSize, and flushes the rest on forceFlush', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const processor = createOtlpSpanProcessor(
        { url: `${receiver.endpoint}/v1/traces` },
        { maxQueueSize: 100, maxExportBatchSize: 10, scheduledDelayMillis: 60_000, exportTimeoutMillis: 5000 },
      );
      const provider = new TracerProvider({ spanProcessors: [processor] });
      const exported = await counter(SPANS_EXPORTED);
      const bytes = await counter(SPAN_EXPORT_BYTES);
      const tracer = provider.getTracer('t');
      for (let i = 0; i < 25; i++) tracer.startSpan(`s${i}`, { attributes: { i } }).end();
      await receiver.waitFor(() => receiver.spans.length >= 20, 10_000, 'two full batches');
      expect(receiver.requests.length).toBe(2);
      await provider.forceFlush();
      expect(receiver.spans.map((s) => s.name)).toEqual(Array.from({ length: 25 }, (_, i) => `s${i}`));
      expect(receiver.spans.map((s) => Number(s.attributes.i))).toEqual(Array.from({ length: 25 }, (_, i) => i));
      expect(receiver.requests.length).toBe(3);
      expect((await counter(SPANS_EXPORTED)) - exported).toBe(25);
      expect((await counter(SPAN_EXPORT_BYTES)) - bytes).toBe(receiver.requests.reduce((s, r) => s + r.bytes, 0));
      await provider.shutdown();
    } finally {
      await receiver.stop();
    }
  });

  it('exports a partial batch after scheduledDelayMillis, and nothing that was not sampled', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const processor = createOtlpSpanProcessor(
        { url: `${receiver.endpoint}/v1/traces` },
        { maxQueueSize: 100, maxExportBatchSize: 50, scheduledDelayMillis: 200, exportTimeoutMillis: 5000 },
      );
      const provider = new TracerProvider({ spanProcessors: [processor] });
      const tracer = provider.getTracer('t');
      const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.NONE, isRemote: true });
      tracer.startSpan('kept').end();
      tracer.startSpan('not sampled', {}, unsampled).end();
      const t = Date.now();
      await receiver.waitFor(() => receiver.spans.length === 1, 5000, 'the timed batch');
      expect(Date.now() - t).toBeGreaterThanOrEqual(150);
      expect(receiver.spans[0]!.name).toBe('kept');
      await provider.shutdown();
      expect(receiver.spans.length).toBe(1);
    } finally {
      await receiver.stop();
    }
  });

  it('bounds its queue while the collector hangs: drops beyond maxQueueSize, counts them and the timed-out batch', async () => {
    const receiver = await startOtlpReceiver();
    try {
      receiver.setDelay(3000);
      const processor = createOtlpSpanProcessor(
        { url: `${receiver.endpoint}/v1/traces`, timeoutMillis: 10_000 },
        { maxQueueSize: 10, maxExportBatchSize: 10, scheduledDelayMillis: 60_000, exportTimeoutMillis: 500 },
      );
      const provider = new TracerProvider({ spanProcessors: [processor] });
      const dropped = await counter(SPANS_DROPPED);
      const errors = await counter(SPAN_EXPORT_ERRORS);
      const tracer = provider.getTracer('t');
      for (let i = 0; i < 25; i++) tracer.startSpan(`s${i}`).end();
      // 10 went out as a batch, 10 wait, 5 were dropped: queue + one batch in flight.
      expect((await counter(SPANS_DROPPED)) - dropped).toBe(5);
      // The batch in flight times out after exportTimeoutMillis: its 10 spans are dropped too.
      await new Promise((r) => setTimeout(r, 800));
      expect((await counter(SPANS_DROPPED)) - dropped).toBe(15);
      expect((await counter(SPAN_EXPORT_ERRORS)) - errors).toBe(1);
      receiver.setDelay(0);
      await provider.shutdown().catch(() => undefined);
    } finally {
      await receiver.stop();
    }
  });

  it('counts a refused export as an error and its spans as dropped; ignores spans after shutdown', async () => {
    const receiver = await startOtlpReceiver();
    try {
      receiver.setStatus(400); // not retryable: fails at once
      const processor = createOtlpSpanProcessor(
        { url: `${receiver.endpoint}/v1/traces` },
        { maxQueueSize: 100, maxExportBatchSize: 100, scheduledDelayMillis: 60_000, exportTimeoutMillis: 5000 },
      );
      const provider = new TracerProvider({ spanProcessors: [processor] });
      const dropped = await counter(SPANS_DROPPED);
      const errors = await counter(SPAN_EXPORT_ERRORS);
      const tracer = provider.getTracer('t');
      for (let i = 0; i < 4; i++) tracer.startSpan(`s${i}`).end();
      await expect(provider.forceFlush()).rejects.toThrow();
      expect((await counter(SPANS_DROPPED)) - dropped).toBe(4);
      expect((await counter(SPAN_EXPORT_ERRORS)) - errors).toBe(1);
      receiver.setStatus(200);
      await provider.shutdown();
      tracer.startSpan('late').end();
      await new Promise((r) => setTimeout(r, 100));
      expect(receiver.spans.length).toBe(0);
    } finally {
      await receiver.stop();
    }
  });
});
