// FFmpeg boundary against the real ffmpeg/ffprobe: probe, thumbnail, failures with the stderr
// tail on an ERROR span, and a hung FFmpeg killed by its timeout.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FfmpegError, probe, thumbnail, thumbnailOffset } from '../src/lib/ffmpeg.ts';
import { FFMPEG_ATTR, FFMPEG_DURATION, THUMBNAIL_OFFSET_MAX_SECONDS } from '../src/signals/index.ts';
import { registry } from '../src/telemetry/index.ts';
import { makeCorruptVideo, makeFifo, makeTestVideo, requireFfmpeg, type TestVideo } from './harness/ffmpeg.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';
import { tempDir } from './harness/process.ts';

let otel: TestTelemetry;
const dir = tempDir('worker-ffmpeg');
let video: TestVideo;

const spanNamed = (name: string): ReadableSpan => {
  const s = otel.spansNamed(name)[0];
  if (!s) throw new Error(`no span ${name}; have ${otel.spans().map((x) => x.name).join(', ')}`);
  return s;
};
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** Observations so far in the FFmpeg duration histogram for these labels. */
async function ffmpegRuns(labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(FFMPEG_DURATION)?.get();
  const v = m?.values.find((x) => (x as { metricName?: string }).metricName === `${FFMPEG_DURATION}_count` && Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

beforeAll(async () => {
  requireFfmpeg();
  otel = await startTestTelemetry('video-worker');
  video = makeTestVideo(dir.path, { seconds: 3, width: 320, height: 240 });
});
afterAll(async () => {
  await otel?.shutdown();
  dir.cleanup();
});
beforeEach(() => otel.reset());

describe('ffmpeg.probe', () => {
  it('reads duration, codec and resolution of a real H.264 video and records them on the ffmpeg.probe span', async () => {
    const p = await probe(video.path);
    expect(p.codec).toBe('h264');
    expect(p.width).toBe(320);
    expect(p.height).toBe(240);
    expect(p.duration).toBeGreaterThan(2.9);
    expect(p.duration).toBeLessThan(3.1);
    const span = spanNamed('ffmpeg.probe');
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(span.attributes[FFMPEG_ATTR.exitCode]).toBe(0);
    expect(span.attributes[FFMPEG_ATTR.videoCodec]).toBe('h264');
    expect(span.attributes[FFMPEG_ATTR.videoWidth]).toBe(320);
    expect(typeof span.attributes[FFMPEG_ATTR.durationMs]).toBe('number');
  });

  it('fails a corrupt video with an ERROR span carrying the exit code and FFmpeg stderr tail', async () => {
    const before = await ffmpegRuns({ step: 'probe', outcome: 'error' });
    const bad = makeCorruptVideo(dir.path);
    const err = await probe(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FfmpegError);
    const fe = err as FfmpegError;
    expect(fe.exitCode).not.toBe(0);
    expect(fe.timedOut).toBe(false);
    expect(fe.stderrTail).toMatch(/Invalid data found when processing input/);
    const span = spanNamed('ffmpeg.probe');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.status.message).toMatch(/Invalid data found/);
    expect(span.attributes[FFMPEG_ATTR.exitCode]).toBe(fe.exitCode);
    expect(String(span.attributes[FFMPEG_ATTR.stderrTail])).toMatch(/Invalid data found/);
    expect(span.events.some((e) => e.name === 'exception')).toBe(true);
    expect(await ffmpegRuns({ step: 'probe', outcome: 'error' })).toBe(before + 1);
  });

  it('kills a hung ffprobe (input FIFO with no writer) at its timeout and leaves no process behind', async () => {
    const before = await ffmpegRuns({ step: 'probe', outcome: 'timeout' });
    const fifo = makeFifo(dir.path);
    const t0 = Date.now();
    const err = await probe(fifo, { timeoutMs: 500, killGraceMs: 300 }).catch((e: unknown) => e);
    const elapsed = Date.now() - t0;
    expect(err).toBeInstanceOf(FfmpegError);
    const fe = err as FfmpegError;
    expect(fe.timedOut).toBe(true);
    expect(fe.message).toMatch(/timed out after 500 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(500 + 300 + 1500);
    expect(fe.pid).toBeTypeOf('number');
    expect(isAlive(fe.pid as number)).toBe(false);
    const span = spanNamed('ffmpeg.probe');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes[FFMPEG_ATTR.timedOut]).toBe(true);
    expect(span.attributes[FFMPEG_ATTR.signal]).toMatch(/SIGTERM|SIGKILL/);
    expect(await ffmpegRuns({ step: 'probe', outcome: 'timeout' })).toBe(before + 1);
  });

  it('kills a running FFmpeg when its AbortSignal fires', async () => {
    const fifo = makeFifo(dir.path, 'aborted.mp4');
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('job cancelled')), 200);
    const err = (await thumbnail(fifo, join(dir.path, 'never.jpg'), { offsetSeconds: 0, signal: ac.signal, killGraceMs: 300 }).catch((e: unknown) => e)) as FfmpegError;
    expect(err).toBeInstanceOf(FfmpegError);
    expect(err.aborted).toBe(true);
    expect(err.timedOut).toBe(false);
    expect(isAlive(err.pid as number)).toBe(false);
    expect(spanNamed('ffmpeg.thumbnail').status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe('ffmpeg.thumbnail', () => {
  it('extracts a JPEG frame at the offset and records success in the FFmpeg duration histogram', async () => {
    const before = await ffmpegRuns({ step: 'thumbnail', outcome: 'success' });
    const out = join(dir.path, 'thumb.jpg');
    const offset = thumbnailOffset(video.seconds);
    const { bytes } = await thumbnail(video.path, out, { offsetSeconds: offset });
    expect(existsSync(out)).toBe(true);
    expect(bytes).toBeGreaterThan(1000);
    const jpeg = readFileSync(out);
    expect(jpeg.subarray(0, 3).toString('hex')).toBe('ffd8ff');
    const dims = await probe(out);
    expect(dims.codec).toBe('mjpeg');
    expect(dims.width).toBe(320);
    const span = spanNamed('ffmpeg.thumbnail');
    expect(span.attributes[FFMPEG_ATTR.offsetSeconds]).toBe(offset);
    expect(span.attributes[FFMPEG_ATTR.exitCode]).toBe(0);
    expect(await ffmpegRuns({ step: 'thumbnail', outcome: 'success' })).toBe(before + 1);
  });

  it('puts the thumbnail 10 % into the video, clamped to the maximum and inside the video', () => {
    expect(thumbnailOffset(3)).toBeCloseTo(0.3);
    expect(thumbnailOffset(60)).toBe(6);
    expect(thumbnailOffset(3600)).toBe(THUMBNAIL_OFFSET_MAX_SECONDS);
    expect(thumbnailOffset(0)).toBe(0);
    expect(thumbnailOffset(Number.NaN)).toBe(0);
  });

  it('keeps the ffmpeg spans children of the active span (the job span)', async () => {
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('parent', async (parent) => {
      await probe(video.path);
      parent.end();
    });
    const parent = spanNamed('parent');
    const child = spanNamed('ffmpeg.probe');
    expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
  });
});
