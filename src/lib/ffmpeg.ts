// FFmpeg boundary: every ffprobe/ffmpeg run goes through here, as a child process without a
// shell, inside a span (`ffmpeg.probe`, `ffmpeg.thumbnail`) and timed by step and outcome.
// A run that outlives its timeout, or whose AbortSignal fires, gets SIGTERM, then SIGKILL after a
// grace period, so a hung FFmpeg (a stuck network read, a FIFO with no writer) never pins a job.
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { trace, type Span } from '@opentelemetry/api';
import {
  FFMPEG_ATTR,
  FFMPEG_DURATION,
  FFMPEG_DURATION_BUCKETS,
  FFMPEG_DURATION_HELP,
  FFMPEG_KILL_GRACE_MS,
  FFMPEG_STDERR_TAIL_CHARS,
  FFMPEG_TIMEOUT_MS,
  QUEUE_LABELS,
  THUMBNAIL_OFFSET_MAX_SECONDS,
  THUMBNAIL_OFFSET_MIN_SECONDS,
  THUMBNAIL_OFFSET_RATIO,
  THUMBNAIL_WIDTH,
  ffmpegSpanName,
  type FfmpegOutcome,
  type FfmpegStep,
} from '../signals/index.ts';
import { histogram, observe, traceAsync } from '../telemetry/index.ts';

const ffmpegDuration = histogram(FFMPEG_DURATION, FFMPEG_DURATION_HELP, [QUEUE_LABELS.step, QUEUE_LABELS.outcome], FFMPEG_DURATION_BUCKETS);

/**
 * Exemplar-enabled prom-client histograms only accept the object form of observe(); telemetry's
 * observe() uses the positional form when no sampled span is active (OTEL_SDK_DISABLED), so that
 * case is handled here.
 */
function observeRun(step: FfmpegStep, outcome: FfmpegOutcome, seconds: number): void {
  const ctx = trace.getActiveSpan()?.spanContext();
  if (ctx && ctx.traceFlags & 1) observe(ffmpegDuration, { step, outcome }, seconds);
  else ffmpegDuration.observe({ labels: { step, outcome }, value: seconds });
}

export interface FfmpegRunOptions {
  /** Aborts the run (the process is killed); the error's `aborted` is true. */
  signal?: AbortSignal;
  /** Kill the process after this long (default FFMPEG_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL (default FFMPEG_KILL_GRACE_MS). */
  killGraceMs?: number;
  /** Binaries (default `ffprobe` / `ffmpeg` on PATH, or FFPROBE_PATH / FFMPEG_PATH). */
  ffprobePath?: string;
  ffmpegPath?: string;
}

/** A failed FFmpeg run: exit code or signal, whether it timed out, and the tail of its stderr. */
export class FfmpegError extends Error {
  override name = 'FfmpegError';
  readonly step: FfmpegStep;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  readonly stderrTail: string;
  readonly pid: number | undefined;
  constructor(step: FfmpegStep, message: string, info: Omit<FfmpegErrorInfo, 'step'>) {
    super(message);
    this.step = step;
    this.exitCode = info.exitCode;
    this.signal = info.signal;
    this.timedOut = info.timedOut;
    this.aborted = info.aborted;
    this.stderrTail = info.stderrTail;
    this.pid = info.pid;
  }
}
interface FfmpegErrorInfo {
  step: FfmpegStep;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  aborted: boolean;
  stderrTail: string;
  pid: number | undefined;
}

interface RunResult {
  stdout: string;
  stderrTail: string;
  exitCode: number;
}

const MAX_STDOUT_BYTES = 1024 * 1024;

/** Runs one process, records exit code and duration on `span`, throws FfmpegError on failure. */
function run(step: FfmpegStep, bin: string, args: string[], span: Span, opts: FfmpegRunOptions): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? FFMPEG_TIMEOUT_MS;
  const graceMs = opts.killGraceMs ?? FFMPEG_KILL_GRACE_MS;
  const started = performance.now();
  return new Promise<RunResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new FfmpegError(step, `${step} aborted before start`, { exitCode: null, signal: null, timedOut: false, aborted: true, stderrTail: '', pid: undefined }));
      return;
    }
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false });
    let stdout = '';
    let stdoutBytes = 0;
    let stderr = '';
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    let spawnError: Error | undefined;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      stdoutBytes += d.length;
      if (stdoutBytes <= MAX_STDOUT_BYTES) stdout += d;
    });
    child.stderr.on('data', (d: string) => {
      stderr += d;
      if (stderr.length > FFMPEG_STDERR_TAIL_CHARS * 4) stderr = stderr.slice(-FFMPEG_STDERR_TAIL_CHARS * 2);
    });
    const kill = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const onAbort = () => {
      aborted = true;
      kill();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      // ENOENT (binary missing) or EACCES: there is no process to wait for.
      spawnError = err;
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      const seconds = (performance.now() - started) / 1000;
      const stderrTail = stderr.trim().slice(-FFMPEG_STDERR_TAIL_CHARS);
      span.setAttribute(FFMPEG_ATTR.durationMs, Math.round(seconds * 1000));
      if (code !== null) span.setAttribute(FFMPEG_ATTR.exitCode, code);
      if (sig) span.setAttribute(FFMPEG_ATTR.signal, sig);
      const outcome: FfmpegOutcome = code === 0 && !spawnError ? 'success' : timedOut ? 'timeout' : 'error';
      observeRun(step, outcome, seconds);
      if (outcome === 'success') {
        resolve({ stdout, stderrTail, exitCode: 0 });
        return;
      }
      span.setAttribute(FFMPEG_ATTR.timedOut, timedOut);
      if (stderrTail) span.setAttribute(FFMPEG_ATTR.stderrTail, stderrTail);
      const why = spawnError
        ? `could not start ${bin}: ${spawnError.message}`
        : timedOut
          ? `timed out after ${timeoutMs} ms (killed with ${sig ?? 'SIGTERM'})`
          : aborted
            ? `aborted (killed with ${sig ?? 'SIGTERM'})`
            : `exited with ${code ?? sig}`;
      const lastLine = stderrTail.split('\n').pop() ?? '';
      reject(
        new FfmpegError(step, `ffmpeg ${step} ${why}${lastLine ? `: ${lastLine}` : ''}`, {
          exitCode: code,
          signal: sig,
          timedOut,
          aborted,
          stderrTail,
          pid: child.pid,
        }),
      );
    });
  });
}

export interface ProbeResult {
  /** Seconds (0 when the container does not say). */
  duration: number;
  codec: string;
  width: number;
  height: number;
  /** Container format(s) as ffprobe names them, e.g. `mov,mp4,m4a,3gp,3g2,mj2`. */
  format: string;
}

interface FfprobeJson {
  streams?: Array<{ codec_type?: string; codec_name?: string; width?: number; height?: number; duration?: string }>;
  format?: { duration?: string; format_name?: string };
}

/** Probes a local file: duration, video codec and resolution. Throws FfmpegError when it is no video. */
export function probe(file: string, opts: FfmpegRunOptions = {}): Promise<ProbeResult> {
  return traceAsync(ffmpegSpanName('probe'), async (span) => {
    const bin = opts.ffprobePath ?? process.env.FFPROBE_PATH ?? 'ffprobe';
    const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-select_streams', 'v:0', file];
    const { stdout } = await run('probe', bin, args, span, opts);
    const json = JSON.parse(stdout) as FfprobeJson;
    const video = json.streams?.find((s) => s.codec_type === 'video');
    if (!video || !video.width || !video.height) {
      throw new FfmpegError('probe', 'ffmpeg probe found no video stream', { exitCode: 0, signal: null, timedOut: false, aborted: false, stderrTail: '', pid: undefined });
    }
    const duration = Number(json.format?.duration ?? video.duration ?? 0) || 0;
    const result: ProbeResult = { duration, codec: video.codec_name ?? 'unknown', width: video.width, height: video.height, format: json.format?.format_name ?? 'unknown' };
    span.setAttributes({
      [FFMPEG_ATTR.videoDuration]: result.duration,
      [FFMPEG_ATTR.videoCodec]: result.codec,
      [FFMPEG_ATTR.videoWidth]: result.width,
      [FFMPEG_ATTR.videoHeight]: result.height,
    });
    return result;
  });
}

/** Where to grab the thumbnail: 10 % in, clamped, and always inside the video. */
export function thumbnailOffset(durationSeconds: number): number {
  if (!(durationSeconds > 0)) return 0;
  const wanted = Math.min(Math.max(durationSeconds * THUMBNAIL_OFFSET_RATIO, THUMBNAIL_OFFSET_MIN_SECONDS), THUMBNAIL_OFFSET_MAX_SECONDS);
  return Math.round(Math.min(wanted, durationSeconds * 0.9) * 1000) / 1000;
}

export interface ThumbnailOptions extends FfmpegRunOptions {
  offsetSeconds: number;
  width?: number;
}

/** Writes one JPEG frame of `input` at `offsetSeconds` to `output`. Returns its size in bytes. */
export function thumbnail(input: string, output: string, opts: ThumbnailOptions): Promise<{ bytes: number }> {
  const width = opts.width ?? THUMBNAIL_WIDTH;
  return traceAsync(
    ffmpegSpanName('thumbnail'),
    async (span) => {
      const bin = opts.ffmpegPath ?? process.env.FFMPEG_PATH ?? 'ffmpeg';
      // -ss before -i seeks on the demuxer (fast); min(width,iw) never upscales; -2 keeps the height even.
      const args = [
        '-nostdin', '-hide_banner', '-v', 'error', '-y',
        '-ss', String(opts.offsetSeconds), '-i', input,
        '-frames:v', '1', '-vf', `scale='min(${width},iw)':-2`, '-q:v', '3', '-f', 'image2', '-c:v', 'mjpeg', output,
      ];
      const { stderrTail } = await run('thumbnail', bin, args, span, opts);
      const bytes = await stat(output).then((s) => s.size, () => 0);
      if (bytes === 0) {
        throw new FfmpegError('thumbnail', `ffmpeg thumbnail wrote no frame at ${opts.offsetSeconds}s`, { exitCode: 0, signal: null, timedOut: false, aborted: false, stderrTail, pid: undefined });
      }
      return { bytes };
    },
    { [FFMPEG_ATTR.offsetSeconds]: opts.offsetSeconds },
  );
}
