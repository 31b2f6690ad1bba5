// Robust export: a full queue drops (bounded memory) and counts, a failing or throwing exporter
// never throws into the app and is counted, and the encoded bytes are measured.
import { diag, DiagLogLevel, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOG_BATCH, SPAN_BATCH, SPAN_EXPORT_BYTES, SPAN_EXPORT_ERRORS, SPANS_DROPPED, SPANS_EXPORTED } from '../src/signals/index.ts';
import { batchLimits, CountingBatchSpanProcessor, CountingSpanExporter, createOtlpSpanExporter } from '../src/telemetry/exporter.ts';
import { startTelemetry } from '../src/telemetry/sdk.ts';
import { registry } from '../src/telemetry/metrics.ts';
import { startOtlpReceiver } from './harness/otlp-receiver.ts';
import { startProcess, waitFor } from './harness/process.ts';

const root = resolve(import.meta.dirname, '..');

async function counter(name: string): Promise<number> {
  const m = registry.getSingleMetric(name.replace(/_total$/, '')) ?? registry.getSingleMetric(name);
  if (!m) return 0;
  const v = await m.get();
  return v.values.reduce((s, x) => s + x.value, 0);
}

function makeSpans(provider: TracerProvider, n: number): void {
  const tracer = provider.getTracer('t');
  for (let i = 0; i < n; i++) tracer.startSpan(`s${i}`).end();
}

describe('span export', () => {
  it('drops and counts spans beyond the bounded queue while the exporter hangs', async () => {
    const hanging: SpanExporter = { export: () => undefined, shutdown: async () => undefined };
    const processor = new CountingBatchSpanProcessor({ exporter: new CountingSpanExporter(hanging), maxQueueSize: 10, maxExportBatchSize: 10, scheduledDelayMillis: 60_000 });
    const provider = new TracerProvider({ spanProcessors: [processor] });
    const before = await counter(SPANS_DROPPED);
    makeSpans(provider, 25);
    // 10 are handed to the (hanging) exporter as a full batch, 10 wait in the queue, 5 are dropped:
    // memory stays at queue + one batch in flight, whatever the backend does.
    expect((await counter(SPANS_DROPPED)) - before).toBe(5);
    makeSpans(provider, 100);
    expect((await counter(SPANS_DROPPED)) - before).toBe(105);
  });

  it('counts a failing export as an error and its spans as dropped, without throwing', async () => {
    const failing: SpanExporter = { export: (_s, cb) => cb({ code: ExportResultCode.FAILED, error: new Error('503') }), shutdown: async () => undefined };
    const throwing: SpanExporter = {
      export: () => {
        throw new Error('exporter bug');
      },
      shutdown: async () => undefined,
    };
    for (const inner of [failing, throwing]) {
      const errors = await counter(SPAN_EXPORT_ERRORS);
      const dropped = await counter(SPANS_DROPPED);
      const results: number[] = [];
      new CountingSpanExporter(inner).export([{} as ReadableSpan, {} as ReadableSpan], (r) => results.push(r.code));
      expect(results).toEqual([ExportResultCode.FAILED]);
      expect((await counter(SPAN_EXPORT_ERRORS)) - errors).toBe(1);
      expect((await counter(SPANS_DROPPED)) - dropped).toBe(2);
    }
  });

  it('counts exported spans and the encoded OTLP bytes the receiver got', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const exporter = new CountingSpanExporter(createOtlpSpanExporter({ url: `${receiver.endpoint}/v1/traces` }));
      const processor = new CountingBatchSpanProcessor({ exporter, scheduledDelayMillis: 60_000 });
      const provider = new TracerProvider({ spanProcessors: [processor] });
      const exported = await counter(SPANS_EXPORTED);
      const bytes = await counter(SPAN_EXPORT_BYTES);
      makeSpans(provider, 7);
      await provider.forceFlush();
      expect((await counter(SPANS_EXPORTED)) - exported).toBe(7);
      expect(receiver.spans.length).toBe(7);
      const sent = receiver.requests.reduce((s, r) => s + r.bytes, 0);
      expect((await counter(SPAN_EXPORT_BYTES)) - bytes).toBe(sent);
      await provider.shutdown();
    } finally {
      await receiver.stop();
    }
  });

  it('counts 5xx answers from the collector as export errors and never blocks span creation while it is slow', async () => {
    const receiver = await startOtlpReceiver();
    try {
      receiver.setStatus(503);
      receiver.setDelay(1500);
      const exporter = new CountingSpanExporter(createOtlpSpanExporter({ url: `${receiver.endpoint}/v1/traces`, timeoutMillis: 2000 }));
      const processor = new CountingBatchSpanProcessor({ exporter, maxExportBatchSize: 10, scheduledDelayMillis: 10 });
      const provider = new TracerProvider({ spanProcessors: [processor] });
      const errors = await counter(SPAN_EXPORT_ERRORS);
      const t = performance.now();
      makeSpans(provider, 200); // several batches go out to the slow, failing collector meanwhile
      const elapsed = performance.now() - t;
      expect(elapsed).toBeLessThan(500);
      const deadline = Date.now() + 15_000;
      while ((await counter(SPAN_EXPORT_ERRORS)) === errors && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await counter(SPAN_EXPORT_ERRORS)) - errors).toBeGreaterThan(0);
      expect(receiver.requests.every((r) => r.status === 503)).toBe(true);
      await provider.shutdown().catch(() => undefined);
    } finally {
      await receiver.stop();
    }
  });

  it('sends from the export thread: a batch reaches the collector while the main thread is busy, and an idle exporter lets the process end', async () => {
    // A child process (the receiver must not share its event loop): it exports one span, then
    // keeps its main thread busy for 3 s. The POST can only arrive during that time if another
    // thread sends it. Afterwards the child does not shut the exporter down: the export thread
    // must not keep an idle process alive.
    const receiver = await startOtlpReceiver();
    try {
      const code = `
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { createOtlpSpanExporter } from './src/telemetry/exporter.ts';
const exporter = createOtlpSpanExporter({ url: process.env.TRACES_URL });
const span = new TracerProvider().getTracer('t').startSpan('off-main');
span.end();
exporter.export([span], (r) => console.log(JSON.stringify({ result: r.code, error: r.error?.message })));
const start = Date.now();
while (Date.now() - start < 3000);
console.log(JSON.stringify({ busyFrom: start, busyUntil: Date.now() }));
`;
      const child = startProcess(process.execPath, ['--input-type=module', '--eval', code], {
        cwd: root,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TRACES_URL: `${receiver.endpoint}/v1/traces` },
      });
      const exit = await new Promise<number | null>((r) => child.proc.once('exit', (c) => r(c)));
      const out = child.output();
      expect(exit, out).toBe(0);
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { result?: number; busyFrom?: number; busyUntil?: number });
      const busy = lines.find((l) => l.busyUntil !== undefined)!;
      expect(lines.find((l) => l.result !== undefined)?.result, out).toBe(ExportResultCode.SUCCESS);
      expect(receiver.spans.map((s) => s.name)).toEqual(['off-main']);
      const arrived = receiver.requests[0]!.receivedAt;
      expect(arrived).toBeGreaterThan(busy.busyFrom!);
      expect(arrived, `the POST arrived ${arrived - busy.busyUntil!} ms after the busy loop ended`).toBeLessThan(busy.busyUntil!);
    } finally {
      await receiver.stop();
    }
  });
});

describe('batch limits from OTEL_BSP_* and OTEL_BLRP_*', () => {
  it('applies the standard variables over our defaults, refuses bad values by name, and keeps a batch within the queue', () => {
    expect(batchLimits('OTEL_BSP', SPAN_BATCH, {})).toEqual(SPAN_BATCH);
    expect(batchLimits('OTEL_BLRP', LOG_BATCH, {})).toEqual(LOG_BATCH);
    expect(
      batchLimits('OTEL_BSP', SPAN_BATCH, { OTEL_BSP_SCHEDULE_DELAY: '250', OTEL_BSP_MAX_QUEUE_SIZE: '4096', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1024', OTEL_BSP_EXPORT_TIMEOUT: '0' }),
    ).toEqual({ scheduledDelayMillis: 250, maxQueueSize: 4096, maxExportBatchSize: 1024, exportTimeoutMillis: 0 });
    // The log processor reads its own prefix only.
    expect(batchLimits('OTEL_BLRP', LOG_BATCH, { OTEL_BSP_SCHEDULE_DELAY: '250', OTEL_BLRP_SCHEDULE_DELAY: '50' }).scheduledDelayMillis).toBe(50);
    expect(batchLimits('OTEL_BSP', SPAN_BATCH, { OTEL_BSP_MAX_QUEUE_SIZE: '100' })).toMatchObject({ maxQueueSize: 100, maxExportBatchSize: 100 });

    const warnings: string[] = [];
    diag.setLogger({ error: () => undefined, warn: (m: string) => warnings.push(m), info: () => undefined, debug: () => undefined, verbose: () => undefined }, DiagLogLevel.WARN);
    try {
      const limits = batchLimits('OTEL_BSP', SPAN_BATCH, { OTEL_BSP_SCHEDULE_DELAY: 'soon', OTEL_BSP_MAX_QUEUE_SIZE: '0', OTEL_BSP_EXPORT_TIMEOUT: '1.5' });
      expect(limits).toEqual(SPAN_BATCH);
    } finally {
      diag.disable();
    }
    expect(warnings).toEqual([
      `OTEL_BSP_MAX_QUEUE_SIZE="0" is not a whole number >= 1; using ${SPAN_BATCH.maxQueueSize}`,
      `OTEL_BSP_SCHEDULE_DELAY="soon" is not a whole number >= 0; using ${SPAN_BATCH.scheduledDelayMillis}`,
      `OTEL_BSP_EXPORT_TIMEOUT="1.5" is not a whole number >= 0; using ${SPAN_BATCH.exportTimeoutMillis}`,
    ]);
  });

  it('startTelemetry exports on the OTEL_BSP_SCHEDULE_DELAY it is given, not only on its default', async () => {
    // Vacuous unless the default delay is longer than the wait below.
    expect(SPAN_BATCH.scheduledDelayMillis).toBeGreaterThan(3000);
    const receiver = await startOtlpReceiver();
    const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.endpoint;
    try {
      const tel = await startTelemetry({
        serviceName: 'video-api',
        logExporter: null,
        env: { DEPLOYMENT_ENVIRONMENT: 'development', OTEL_BSP_SCHEDULE_DELAY: '100' },
      });
      try {
        const started = Date.now();
        trace.getTracer('t').startSpan('batch-delay-probe').end();
        await waitFor(() => receiver.spans.some((sp) => sp.name === 'batch-delay-probe'), 3000, 'the span, within 3 s');
        expect(Date.now() - started).toBeLessThan(3000);
      } finally {
        await tel.shutdown();
      }
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
      await receiver.stop();
    }
  });
});
