// The helpers application code uses (traceAsync, addSpanEvent), redaction in every exported
// span attribute, event and log line, log correlation, and the SDK lifecycle.
import { Writable } from 'node:stream';
import { context, INVALID_SPAN_CONTEXT, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REDACTED_VALUE } from '../src/signals/index.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { redactAttributes, redactString } from '../src/telemetry/redact.ts';
import { currentTelemetry, NO_SPAN_START_METRICS, startTelemetry } from '../src/telemetry/sdk.ts';
import { telemetryState } from '../src/telemetry/state.ts';
import { addSpanEvent, traceAsync } from '../src/telemetry/trace.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';

const PRESIGNED =
  'https://s3.local/videos/abc.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDSECRETCRED%2F20261125%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261125T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=TOKSECRET&X-Amz-Signature=0123abcdSIGSECRET&X-Amz-SignedHeaders=host';
const SECRETS = ['AKIDSECRETCRED', 'TOKSECRET', 'SIGSECRET', 'hunter2bearer', 'sessioncookie'];

function memoryStream(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

let tel: TestTelemetry;
beforeAll(async () => {
  tel = await startTestTelemetry('video-api');
});
afterAll(async () => {
  await tel.shutdown();
});
beforeEach(() => tel.reset());

describe('traceAsync', () => {
  it('records the exception, sets ERROR status and rethrows the same error', async () => {
    const boom = new Error(`S3 said no for ${PRESIGNED}`);
    await expect(traceAsync('s3.getObject', async () => Promise.reject(boom), { 's3.key': 'videos/a.mp4' })).rejects.toBe(boom);
    const [span] = tel.spansNamed('s3.getObject');
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes['s3.key']).toBe('videos/a.mp4');
    const ex = span?.events.find((e) => e.name === 'exception');
    expect(ex?.attributes?.['exception.message']).toContain('X-Amz-Signature=[REDACTED]');
    expect(JSON.stringify(span?.events)).not.toContain('SIGSECRET');
    expect(span?.ended).toBe(true);
  });

  it('returns the value, leaves status unset and nests child spans under the active one', async () => {
    const v = await traceAsync('outer', async () => traceAsync('inner', async () => 42));
    expect(v).toBe(42);
    const outer = tel.spansNamed('outer')[0]!;
    const inner = tel.spansNamed('inner')[0]!;
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(outer.status.code).toBe(SpanStatusCode.UNSET);
  });
});

describe("the SDK's span-start self-metrics", () => {
  it('are replaced by a no-op on every tracer (no OTel meter here), and spans are still recorded', async () => {
    // The SDK's own recorder sits in this field of a plain provider's tracer: if a new SDK
    // version renames it, this fails instead of the cost silently coming back.
    const plain = new TracerProvider().getTracer('plain') as unknown as { _tracerMetrics?: { startSpan?: unknown } };
    expect(typeof plain._tracerMetrics?.startSpan).toBe('function');
    expect(plain._tracerMetrics).not.toBe(NO_SPAN_START_METRICS);
    for (const name of ['video-platform', 'some-instrumentation']) {
      expect((trace.getTracer(name) as unknown as { _tracerMetrics?: unknown })._tracerMetrics, name).toBe(NO_SPAN_START_METRICS);
    }
    trace.getTracer('some-instrumentation').startSpan('from-another-tracer').end();
    await traceAsync('with-quiet-metrics', async () => undefined);
    expect(tel.spansNamed('from-another-tracer')).toHaveLength(1);
    expect(tel.spansNamed('with-quiet-metrics')[0]?.ended).toBe(true);
  });
});

describe('traceAsync inside an unsampled trace (default sampler)', () => {
  const unsampled = () => trace.wrapSpanContext({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.NONE });

  it('runs fn with the parent non-recording span, in the parent context: no span is built or exported', async () => {
    const parent = unsampled();
    const log = memoryStream();
    const logger = createLogger('video-api', log.stream);
    const v = await context.with(trace.setSpan(context.active(), parent), () =>
      traceAsync('s3.head_object', async (span) => {
        expect(span).toBe(parent);
        expect(trace.getActiveSpan()).toBe(parent);
        logger.info('inside');
        return traceAsync('nested', async (inner) => (inner === parent ? 7 : -1));
      }, { 's3.key': 'videos/a.mp4' }),
    );
    expect(v).toBe(7);
    expect(tel.spans()).toEqual([]);
    // The log line still names the trace (unsampled: flags 00) and the nearest span.
    expect(log.lines()[0]).toMatchObject({ trace_id: parent.spanContext().traceId, span_id: parent.spanContext().spanId, trace_flags: '00' });
  });

  it('passes a rejection (and a synchronous throw) through unchanged', async () => {
    const boom = new Error('no');
    const inParent = <T>(fn: () => Promise<T>) => context.with(trace.setSpan(context.active(), unsampled()), fn);
    await expect(inParent(() => traceAsync('x', async () => Promise.reject(boom)))).rejects.toBe(boom);
    await expect(inParent(() => traceAsync('y', () => { throw boom; }))).rejects.toBe(boom);
  });

  it('still records children of sampled spans, and leaves other samplers to the SDK', async () => {
    await traceAsync('root', async () => traceAsync('child', async (span) => expect(span.isRecording()).toBe(true)));
    expect(tel.spans().map((s) => s.name)).toEqual(['child', 'root']);
    // Without our default sampler (rootRatio unset) the SDK decides: a fresh span, not the parent.
    const saved = telemetryState.rootRatio;
    telemetryState.rootRatio = undefined;
    try {
      const parent = unsampled();
      await context.with(trace.setSpan(context.active(), parent), () =>
        traceAsync('sdk-child', async (span) => {
          expect(span).not.toBe(parent);
          expect(span.spanContext().traceId).toBe(parent.spanContext().traceId);
          expect(span.spanContext().spanId).not.toBe(parent.spanContext().spanId);
        }),
      );
    } finally {
      telemetryState.rootRatio = saved;
    }
    // An all-zero (invalid) active span is no parent: the child starts its own, sampled trace.
    await context.with(trace.setSpan(context.active(), trace.wrapSpanContext(INVALID_SPAN_CONTEXT)), () =>
      traceAsync('fresh-root', async (span) => expect(span.isRecording()).toBe(true)),
    );
    expect(tel.spansNamed('fresh-root')).toHaveLength(1);
  });
});

describe('addSpanEvent', () => {
  it('is a no-op outside a span (nothing recorded, nothing thrown)', () => {
    expect(trace.getActiveSpan()).toBeUndefined();
    expect(() => addSpanEvent('video.access_check', { filename: 'a.mp4' })).not.toThrow();
    expect(tel.spans()).toEqual([]);
  });

  it('adds the event to the active span with redacted attributes', async () => {
    await traceAsync('api.videos.stream', async () => {
      addSpanEvent('video.s3_redirect', { s3Key: 'videos/a.mp4', signedUrl: 'generated', url: PRESIGNED });
    });
    const ev = tel.spansNamed('api.videos.stream')[0]!.events.find((e) => e.name === 'video.s3_redirect');
    expect(ev?.attributes?.s3Key).toBe('videos/a.mp4');
    expect(ev?.attributes?.url).toContain('X-Amz-Credential=[REDACTED]');
  });
});

describe('redaction', () => {
  it('redacts X-Amz-Signature, X-Amz-Credential and X-Amz-Security-Token but keeps the rest of the URL', () => {
    const r = redactString(PRESIGNED);
    for (const s of ['AKIDSECRETCRED', 'TOKSECRET', 'SIGSECRET']) expect(r).not.toContain(s);
    expect(r).toContain('X-Amz-Signature=[REDACTED]');
    expect(r).toContain('X-Amz-Security-Token=[REDACTED]');
    expect(r).toContain('X-Amz-Expires=900');
    expect(r.startsWith('https://s3.local/videos/abc.mp4?')).toBe(true);
  });

  it('redacts authorization and cookie header attributes whatever their value', () => {
    const r = redactAttributes({
      'http.request.header.authorization': 'Bearer hunter2bearer',
      'http.request.header.cookie': 'session=sessioncookie',
      'url.full': PRESIGNED,
      keep: 'plain',
    });
    expect(r['http.request.header.authorization']).toBe(REDACTED_VALUE);
    expect(r['http.request.header.cookie']).toBe(REDACTED_VALUE);
    expect(r.keep).toBe('plain');
    expect(JSON.stringify(r)).not.toMatch(new RegExp(SECRETS.join('|')));
  });

  it('never lets a secret reach any exported span attribute, event or log record', async () => {
    const mem = memoryStream();
    const log = createLogger('redaction-test', mem.stream);
    await traceAsync(
      'secrets',
      async (span) => {
        span.setAttribute('note', 'set directly on a span is the caller’s responsibility');
        addSpanEvent('with.url', { url: PRESIGNED, authorization: 'Bearer hunter2bearer' });
        log.info({ url: PRESIGNED, headers: { authorization: 'Bearer hunter2bearer', cookie: 'session=sessioncookie' } }, `fetching ${PRESIGNED}`);
        log.warn(`token in message Bearer hunter2bearer`);
      },
      { 'url.full': PRESIGNED, 'http.request.header.cookie': 'session=sessioncookie' },
    );
    const exported = JSON.stringify({ spans: tel.spans().map((s) => [s.attributes, s.events]), logs: tel.logs().map((l) => [l.body, l.attributes]) });
    const stdout = JSON.stringify(mem.lines());
    for (const s of SECRETS) {
      expect(exported).not.toContain(s);
      expect(stdout).not.toContain(s);
    }
    expect(tel.logs().length).toBe(2);
  });
});

describe('log correlation', () => {
  it('puts the active trace_id and span_id on pino lines and on the OTel log records', async () => {
    const mem = memoryStream();
    const log = createLogger('corr-test', mem.stream);
    let ids = { traceId: '', spanId: '' };
    await traceAsync('work', async (span) => {
      ids = span.spanContext();
      log.info({ videoId: 'v1' }, 'inside');
    });
    log.info('outside');
    const [inside, outside] = mem.lines();
    expect(inside).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId, trace_flags: '01', msg: 'inside', videoId: 'v1' });
    expect(outside?.trace_id).toBeUndefined();
    const rec = tel.logs().find((l) => l.body === 'inside')!;
    expect(rec.spanContext?.traceId).toBe(ids.traceId);
    expect(rec.spanContext?.spanId).toBe(ids.spanId);
    expect(rec.severityText).toBe('INFO');
    expect(rec.attributes.videoId).toBe('v1');
    expect(rec.resource.attributes['service.name']).toBe('video-api');
    expect(rec.instrumentationScope.name).toBe('corr-test');
  });

  it('does not emit OTel records for disabled levels', () => {
    const mem = memoryStream();
    const log = createLogger('level-test', mem.stream);
    log.debug('hidden');
    expect(tel.logs()).toEqual([]);
    expect(mem.lines()).toEqual([]);
  });
});

describe('startTelemetry lifecycle', () => {
  it('is idempotent while running and restores globals on shutdown so another SDK can start', async () => {
    const again = await startTelemetry({ serviceName: 'video-api', spanExporter: null, logExporter: null });
    expect(again).toBe(tel.handle);
    await tel.shutdown();
    expect(currentTelemetry()).toBeUndefined();
    // With no SDK, spans are non-recording and nothing is captured.
    await traceAsync('after-shutdown', async (span) => expect(span.isRecording()).toBe(false));
    tel = await startTestTelemetry('video-worker');
    await traceAsync('restarted', async () => undefined);
    const [span] = tel.spansNamed('restarted');
    expect(span?.resource.attributes['service.name']).toBe('video-worker');
  });
});
