// `npm run bench:overhead [-- --quick]`: the overhead verdict on a machine without k6.
//
// Starts real s3rver (behind a delaying TCP proxy: realistic S3 latency) and Redis, an OTLP sink
// per variant, then, round after round, every variant of video-api as a fresh child process, all
// alive at once:
//   baseline     OTEL_SDK_DISABLED=true (our register.ts preloaded, SDK off)
//   baseline-aa  the same again: the A/A pair that shows the noise floor
//   calibration  the baseline plus a fixed busy loop before every request (bench/calibration-register.ts):
//                a known userland cost, the positive control for the CPU figures
//   production   our telemetry, DEPLOYMENT_ENVIRONMENT=production (ratio SAMPLING_RATIO.production)
//   unsampled    the same with head sampling ratio 0 (OTEL_TRACES_SAMPLER_ARG=0): what a request
//                that is not sampled costs (critical routes, uploads, are still sampled)
//   full         our telemetry at 100 % sampling (OTEL_TRACES_SAMPLER_ARG=1)
//   stock        bench/stock-register.ts: NodeSDK + instrumentation-http + BatchSpanProcessor
//                (AlwaysOn: every request sampled; compare with full)
//   stock-sampled  the same with the stock head sampler at the production ratio
//                (parentbased_traceidratio, SAMPLING_RATIO.production; compare with production)
// The processes are loaded in turn, in short slices (wrk for --slice seconds, default 1), until
// each has had its warm-up and its measured seconds: this machine's speed drifts by tens of
// percent over seconds, and slices this short give every variant of a round the same drift
// (docs/benchmarks.md, "Why the variants run side by side"). The order of a round is a row of a
// Williams design (roundOrder), so no variant always has the same neighbours. The
// services are pinned to one core and wrk to the other (taskset). Per variant and workload it
// reports CPU µs per request of the service process (/proc/<pid>/stat over the whole measured
// phase; user and kernel time also apart), throughput, P50/P95/P99, paired ratios vs the baseline of the same round
// with 95 % confidence intervals, and a data check: spans per request at the sink and the
// http_server_request_duration_seconds _count delta against wrk's request count.
//
// Node 24 runs it directly (type stripping): node bench/overhead.ts [--quick] [--rounds N]
// [--seconds S] [--warmup S] [--slice S] [--variants a,b] [--workloads a,b] [--node-flags "--flag ..."]
// [--busy-server-cpu] [--write docs/benchmarks.md] [--json out.json]
// --busy-server-cpu keeps the services' core from idling (a SCHED_IDLE busy loop on it, whose CPU
// is not the services'): the S3 workloads' cost on a core that is never idle, as on a busy host.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BENCH_CALIBRATION_LOOP_ITERATIONS,
  BENCH_S3_DELAY_MS,
  BENCH_STREAM_RANGE_BYTES,
  BENCH_UPLOAD_BYTES,
  CPU_OVERHEAD_TARGET_US_FULL_SAMPLING,
  CPU_OVERHEAD_TARGET_US_PRODUCTION,
  HTTP_LABELS,
  HTTP_SERVER_DURATION,
  OVERHEAD_BUDGET_RATIO,
  SAMPLING_RATIO,
  SERVICE_API,
  SPAN_BATCH,
} from '../src/signals/index.ts';
import { fixtureUpload, healthz, makeBody, redirect, streamRange, upload, type LoadContext, type RequestPlan, type UploadAnswer } from '../load-tests/scenarios.ts';
import { startRedis } from '../test/harness/redis.ts';
import type { S3rverHandle } from '../test/harness/s3rver.ts';
import { exitStatus, freePort, giveUpIfExited, requireBinary, startProcess, stopProcess, tempDir, waitFor, waitForPort, type Started } from '../test/harness/process.ts';
import { cliOptions, exitWithUsageIfAsked, type CliSpec } from './cli.ts';
import { startDelayProxy } from './delay-proxy.ts';
import { startOtlpSink, type OtlpSink, type SinkCounts } from './otlp-sink.ts';
import { executePlan } from './plan-exec.ts';
import { formatDifference, histogramCount, mean, mergeWrk, pairedDifference, pairedRatio, parseProcStatCpuTimes, parseProcStatSteal, parseWrk, percentile, verdict, type PairedDifference, type PairedRatio, type WrkResult } from './stats.ts';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SESSION_SECRET = 'bench-session-secret-0123456789abcdef';

export const VARIANTS = ['baseline', 'baseline-aa', 'calibration', 'production', 'unsampled', 'full', 'stock', 'stock-sampled'] as const;
export type Variant = (typeof VARIANTS)[number];
export const WORKLOADS = ['healthz', 'stream', 'redirect', 'upload'] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface BenchOptions {
  rounds: number;
  /** Measured seconds per workload and trial. */
  seconds: number;
  warmupSeconds: number;
  /**
   * wrk connections during the warm-up (default: `connections`). The S3 workloads are
   * latency-bound at 8 connections (~130 stream requests/s); the JIT warms up per request, so
   * more connections warm a process in fewer seconds. The measured phase keeps `connections`.
   */
  warmupConnections?: number;
  /** Length of one load slice: the variants of a round take turns at this granularity. */
  sliceSeconds: number;
  /** Node/V8 flags given to every variant's process alike (e.g. a fixed young generation). */
  nodeFlags?: readonly string[];
  connections: number;
  variants: readonly Variant[];
  workloads: readonly Workload[];
  /** Cores for the service and for the load generator (and the rest of the harness). */
  serverCpu: number;
  loadCpu: number;
  /** Pin this process (and so s3rver and Redis, started after) to loadCpu (default true; tests pass false). */
  pinHarness?: boolean;
  /**
   * Keep the services' core from going idle between requests: a busy loop at SCHED_IDLE priority
   * (it runs only when nothing else wants the core, and its CPU is not the service's) pinned to
   * serverCpu for the whole run. On the S3 workloads the service waits on S3 most of the time, and
   * on this VM code that runs after the core sat idle costs two to three times its back-to-back
   * CPU (docs/benchmarks.md, "Session 24"); with the loop the core never idles, as on a busy host.
   */
  busyServerCpu?: boolean;
  log?: (line: string) => void;
}

export interface Trial {
  round: number;
  variant: Variant;
  workload: Workload;
  /** The measured slices merged (mergeWrk). */
  wrk: WrkResult;
  /** How many wrk slices were measured. */
  slices: number;
  /** Requests wrk completed in this trial's warm-up slices (the process's age, in requests, when measuring began). */
  warmupRequests: number;
  cpuSeconds: number;
  cpuUsPerRequest: number;
  /** The user-mode part of cpuUsPerRequest (utime); the rest is kernel time (stime). */
  userCpuUsPerRequest: number;
  /** Spans the variant's sink received during the measured phase (incl. the flush after it), per wrk request. */
  spansPerRequest: number;
  serverSpansPerRequest: number;
  /**
   * Histogram _count delta for this workload's route (every status: requests wrk cut off when it
   * stopped are counted as 499 and still have their span), or undefined when not exported.
   */
  histogramDelta: number | undefined;
  problems: string[];
  /**
   * Set when the trial could not be measured (the service did not start, a request or wrk threw,
   * e.g. the preflight's AbortError after its timeout): its numbers are zeros and it is left out
   * of the summary and of the pairing.
   */
  failed?: string;
}

/** How long the batch span processor may hold spans before exporting them (its delay + margin). */
export const FLUSH_WAIT_MS = SPAN_BATCH.scheduledDelayMillis + 300;

/** What to stop if the run is interrupted (SIGINT/SIGTERM): services, sink, proxy, Redis, s3rver. */
export const cleanups = new Set<() => Promise<unknown>>();
function onExit<T extends () => Promise<unknown>>(fn: T): T {
  cleanups.add(fn);
  return fn;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The order of the variants in round `round` (from 0): row `round` of a Williams design, i.e.
 * 0, 1, n-1, 2, n-2, … shifted by the round, and for an odd n the mirrored rows after the first n.
 * Over every n rounds (2n for an odd n) each variant takes every place and precedes every other
 * variant equally often; the slices run the order forward and backward, so each is also next to
 * every other equally often. A variant's work can spill into the next slice (a span batch is
 * exported up to SPAN_BATCH.scheduledDelayMillis later, on the services' CPU); with a plain
 * rotation the neighbours never changed, so the spill-over fell on the same variant every round.
 */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  const n = items.length;
  if (n === 0) return [];
  const r = round % (n % 2 === 0 ? n : 2 * n);
  const row: T[] = [];
  for (let k = 0, lo = 1, hi = n - 1; k < n; k++) {
    const at = k === 0 ? 0 : k % 2 === 1 ? lo++ : hi--;
    row.push(items[(at + r) % n]!);
  }
  return r < n ? row : row.reverse();
}

export function variantCommand(variant: Variant): { args: string[]; env: Record<string, string> } {
  const main = join(ROOT, 'src/api/main.ts');
  const ours = ['--import', join(ROOT, 'src/telemetry/register.ts'), main];
  switch (variant) {
    case 'baseline':
    case 'baseline-aa':
      return { args: ours, env: { OTEL_SDK_DISABLED: 'true', DEPLOYMENT_ENVIRONMENT: 'production' } };
    case 'calibration': {
      // The baseline's command with the control preloaded first.
      const base = variantCommand('baseline');
      return { args: ['--import', join(ROOT, 'bench/calibration-register.ts'), ...base.args], env: base.env };
    }
    case 'production':
      return { args: ours, env: { DEPLOYMENT_ENVIRONMENT: 'production' } };
    case 'unsampled':
      return { args: ours, env: { DEPLOYMENT_ENVIRONMENT: 'production', OTEL_TRACES_SAMPLER_ARG: '0' } };
    case 'full':
      return { args: ours, env: { DEPLOYMENT_ENVIRONMENT: 'production', OTEL_TRACES_SAMPLER_ARG: '1' } };
    case 'stock':
      // The stock BatchSpanProcessor waits 5 s by default; 1 s (ours, SPAN_BATCH) lets the data
      // check attribute its spans to the right window.
      return { args: ['--import', join(ROOT, 'bench/stock-register.ts'), main], env: { DEPLOYMENT_ENVIRONMENT: 'production', OTEL_BSP_SCHEDULE_DELAY: '1000' } };
    case 'stock-sampled': {
      // What the getting-started guides say to do about volume: the SDK's own head sampler from
      // the environment, at our production ratio (it has no critical routes: uploads too).
      const stock = variantCommand('stock');
      return { args: stock.args, env: { ...stock.env, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(SAMPLING_RATIO.production) } };
    }
  }
}

export interface Service {
  proc: ChildProcess;
  port: number;
  metricsPort: number;
  stop: () => Promise<void>;
}

export interface Env {
  s3: { endpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string };
  redisUrl: string;
  /** One OTLP sink per variant: the variants run side by side, each one's spans must be told apart. */
  sinks: ReadonlyMap<Variant, OtlpSink>;
  logDir: string;
  wrk: string;
  taskset: string;
}

/** How to start the service under a tool (bench/instructions.ts: valgrind), and how long it may take. */
export interface ServiceWrapper {
  /** Command and arguments put before `node` (after taskset). */
  prefix: readonly string[];
  startTimeoutMs: number;
}

export async function startService(
  env: Env,
  variant: Variant,
  opts: Pick<BenchOptions, 'serverCpu' | 'nodeFlags'>,
  logName: string,
  sink: OtlpSink,
  wrapper?: ServiceWrapper,
): Promise<Service> {
  const port = await freePort();
  const metricsPort = await freePort();
  const cmd = variantCommand(variant);
  const log = openSync(join(env.logDir, `${logName}.log`), 'w');
  // A V8 log (e.g. the one --perf-basic-prof turns on) goes to the run's temp dir, not the repo.
  const v8Log = `--logfile=${join(env.logDir, `${logName}-v8.log`)}`;
  const proc = spawn(env.taskset, ['-c', String(opts.serverCpu), ...(wrapper?.prefix ?? []), process.execPath, v8Log, ...(opts.nodeFlags ?? []), ...cmd.args], {
    cwd: ROOT,
    stdio: ['ignore', log, log],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      S3_ENDPOINT: env.s3.endpoint,
      S3_BUCKET: env.s3.bucket,
      S3_REGION: env.s3.region,
      AWS_ACCESS_KEY_ID: env.s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: env.s3.secretAccessKey,
      REDIS_URL: env.redisUrl,
      SESSION_SECRET,
      VIDEO_DELIVERY_DEFAULT: 'stream',
      OTEL_SERVICE_NAME: SERVICE_API,
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_METRICS_EXPORTER: 'none',
      LOG_LEVEL: 'warn',
      ...cmd.env,
    },
  });
  closeSync(log);
  const stop = () => stopProcess(proc);
  // Tracked from the spawn on: an interrupt while the service is still starting stops it too.
  const tracked = onExit(stop);
  try {
    await waitForPort(port, wrapper?.startTimeoutMs ?? 30_000, proc);
    await waitFor(
      async () => {
        giveUpIfExited(proc);
        return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
      },
      wrapper?.startTimeoutMs ?? 15_000,
      `${variant} /healthz`,
    );
  } catch (err) {
    await stop();
    cleanups.delete(tracked);
    const out = existsSync(join(env.logDir, `${logName}.log`)) ? readFileSync(join(env.logDir, `${logName}.log`), 'utf8').slice(-4000) : '';
    throw new Error(`video-api (${variant}) did not start: ${(err as Error).message}\n${out}`, { cause: err });
  }
  return {
    proc,
    port,
    metricsPort,
    stop: async () => {
      await stop();
      cleanups.delete(tracked);
    },
  };
}

/** The taskset'd node process is the service itself (taskset execs), so its PID is ours. */
function cpuTimes(pid: number): { user: number; system: number } {
  return parseProcStatCpuTimes(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

export async function scrape(metricsPort: number): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    return res.ok ? await res.text() : '';
  } catch {
    return '';
  }
}

export interface WorkloadRun {
  plan: RequestPlan;
  /** Route and status the histogram delta is read for. */
  route: string;
  status: string;
  bodyFile?: string;
}

export function workloadRun(workload: Workload, ctx: LoadContext, bodyFile: string): WorkloadRun {
  switch (workload) {
    case 'healthz':
      return { plan: healthz(), route: '/healthz', status: '200' };
    case 'stream':
      return { plan: streamRange(ctx, 0, BENCH_STREAM_RANGE_BYTES, 'bench.stream_64k'), route: '/api/videos/:filename', status: '206' };
    case 'redirect':
      return { plan: redirect(ctx), route: '/api/videos/:filename', status: '302' };
    case 'upload':
      return { plan: upload(ctx, BENCH_UPLOAD_BYTES, 7), route: '/api/upload/stream', status: '201', bodyFile };
  }
}

export function runWrk(env: Env, opts: Pick<BenchOptions, 'loadCpu' | 'connections'>, url: string, run: WorkloadRun, seconds: number): Promise<WrkResult> {
  const headers = Object.entries(run.plan.headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('|');
  return new Promise((resolve, reject) => {
    const p = spawn(
      env.taskset,
      ['-c', String(opts.loadCpu), env.wrk, '-t1', `-c${opts.connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', join(ROOT, 'bench/wrk-report.lua'), url],
      { env: { ...process.env, WRK_METHOD: run.plan.method, WRK_HEADERS: headers, WRK_BODY: run.bodyFile ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const guard = setTimeout(() => p.kill('SIGKILL'), (seconds + 30) * 1000);
    p.on('exit', (code) => {
      clearTimeout(guard);
      try {
        if (code !== 0) throw new Error(`wrk exited with ${code}: ${out}`);
        resolve(parseWrk(out));
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

/**
 * Waits until requests still in flight after wrk stopped have finished: until the server's
 * histogram count stops moving (or, without a histogram, the slowest warm-up latency), bounded.
 */
async function settle(svc: Service, route: string, p99Seconds: number): Promise<void> {
  const count = async () => histogramCount(await scrape(svc.metricsPort), HTTP_SERVER_DURATION, { [HTTP_LABELS.route]: route });
  let last = await count();
  if (last === undefined) return sleep(Math.min(5000, p99Seconds * 1000 + 200));
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    await sleep(250);
    const now = await count();
    if (now === last) return;
    last = now;
  }
}

/** The wrk options of the warm-up slices: `warmupConnections` when given. */
export function warmupOptions<T extends Pick<BenchOptions, 'connections' | 'warmupConnections'>>(opts: T): T {
  return { ...opts, connections: opts.warmupConnections ?? opts.connections };
}

/** One variant's service during a workload phase of a round. */
interface Contender {
  variant: Variant;
  svc: Service;
  sink: OtlpSink;
  problems: string[];
  /** wrk results of the measured slices. */
  slices: WrkResult[];
  warmupRequests: number;
  failed?: unknown;
  cpu0: { user: number; system: number };
  hist0: number | undefined;
  sink0: SinkCounts | undefined;
}

/**
 * One workload for every live service of a round: preflight each, then warm-up and measured
 * seconds in slices that take turns (the order reverses every slice, so no variant is always
 * first after a pause). CPU, histogram and sink counts span the whole measured phase, so the
 * spans a variant exports while another is loaded, and its idle work, count for it.
 */
async function measureTogether(env: Env, opts: BenchOptions, services: { variant: Variant; svc: Service }[], round: number, workload: Workload, ctx: LoadContext, bodyFile: string): Promise<Trial[]> {
  const run = workloadRun(workload, ctx, bodyFile);
  const cs: Contender[] = services.map(({ variant, svc }) => ({ variant, svc, sink: env.sinks.get(variant)!, problems: [], slices: [], warmupRequests: 0, cpu0: { user: 0, system: 0 }, hist0: undefined, sink0: undefined }));
  const live = (): Contender[] => cs.filter((c) => c.failed === undefined);
  const base = (c: Contender): string => `http://127.0.0.1:${c.svc.port}`;
  const warmOpts = warmupOptions(opts);
  const slice = async (c: Contender, seconds: number, warm = false): Promise<WrkResult | undefined> => {
    try {
      return await runWrk(env, warm ? warmOpts : opts, base(c) + run.plan.path, run, seconds);
    } catch (err) {
      // wrk may exit non-zero: this variant's trial failed, the others go on.
      c.failed = err;
      return undefined;
    }
  };
  // Preflight: the request wrk will repeat gets its expected answer (wrk only counts >= 400).
  for (const c of cs) {
    try {
      for (const r of await executePlan(base(c), { ...run.plan, follow: undefined })) c.problems.push(...r.problems);
    } catch (err) {
      // A preflight fetch that timed out rejects with an AbortError.
      c.failed = err;
    }
  }
  let warmP99 = 0;
  for (let done = 0; done < opts.warmupSeconds; done += opts.sliceSeconds) {
    for (const c of live()) {
      const r = await slice(c, Math.min(opts.sliceSeconds, opts.warmupSeconds - done), true);
      warmP99 = Math.max(warmP99, r?.p99 ?? 0);
      c.warmupRequests += r?.requests ?? 0;
    }
  }
  for (const c of live()) await settle(c.svc, run.route, warmP99);
  await sleep(FLUSH_WAIT_MS);
  for (const c of live()) {
    c.hist0 = histogramCount(await scrape(c.svc.metricsPort), HTTP_SERVER_DURATION, { [HTTP_LABELS.route]: run.route });
    c.sink0 = c.sink.counts();
    c.cpu0 = cpuTimes(c.svc.proc.pid as number);
  }
  const sliceCount = Math.ceil(opts.seconds / opts.sliceSeconds);
  for (let k = 0; k < sliceCount; k++) {
    const order = k % 2 === 0 ? live() : live().reverse();
    for (const c of order) {
      if (c.failed !== undefined) continue;
      const r = await slice(c, Math.min(opts.sliceSeconds, opts.seconds - k * opts.sliceSeconds));
      if (r) c.slices.push(r);
    }
  }
  // Requests in flight when wrk stopped finish, and the phase's spans are exported up to one
  // batch delay later: their CPU and spans count.
  for (const c of live()) await settle(c.svc, run.route, Math.max(0, ...c.slices.map((w) => w.p99)));
  await sleep(FLUSH_WAIT_MS);
  const trials: Trial[] = [];
  for (const c of cs) trials.push(c.failed !== undefined ? failedTrial(round, c.variant, workload, c.failed) : await finishTrial(opts, c, round, workload, run, sliceCount));
  return trials;
}

async function finishTrial(opts: BenchOptions, c: Contender, round: number, workload: Workload, run: WorkloadRun, sliceCount: number): Promise<Trial> {
  const cpu1 = cpuTimes(c.svc.proc.pid as number);
  const sink1 = c.sink.counts();
  const sink0 = c.sink0!;
  const hist1 = histogramCount(await scrape(c.svc.metricsPort), HTTP_SERVER_DURATION, { [HTTP_LABELS.route]: run.route });
  const problems = c.problems;
  const wrk = mergeWrk(c.slices);
  if (wrk.requests === 0) problems.push('wrk completed no request');
  if (wrk.statusErrors > 0) problems.push(`${wrk.statusErrors} responses with status >= 400`);
  if (wrk.socketErrors > 0) problems.push(`${wrk.socketErrors} socket errors`);
  const histogramDelta = c.hist0 === undefined || hist1 === undefined ? undefined : hist1 - c.hist0;
  // wrk does not count requests in flight when a slice stops; the server does: at most one per
  // connection and slice.
  const edge = opts.connections * sliceCount;
  if (histogramDelta !== undefined && Math.abs(histogramDelta - wrk.requests) > edge) {
    problems.push(`histogram _count grew by ${histogramDelta}, wrk completed ${wrk.requests} requests`);
  }
  if (sink1.decodeErrors > sink0.decodeErrors) problems.push('the OTLP sink could not decode a trace export');
  // Every request must have its SERVER span where sampling keeps them all (100 %, stock, and
  // uploads, a critical route, at any ratio): fewer means the variant drops data. The reference
  // is the server's own count (histogram delta) when it has one; else wrk's, which misses the
  // requests in flight at the edges of the slices.
  const serverSpans = sink1.serverSpans - sink0.serverSpans;
  if (c.variant === 'full' || c.variant === 'stock' || ((c.variant === 'production' || c.variant === 'unsampled') && workload === 'upload')) {
    const [reference, tolerance] = histogramDelta !== undefined ? [histogramDelta, Math.max(2, Math.ceil(histogramDelta * 0.01))] : [wrk.requests, 2 * edge];
    if (Math.abs(serverSpans - reference) > tolerance) problems.push(`${serverSpans} SERVER spans exported for ${reference} requests`);
  } else if (c.variant === 'unsampled' && serverSpans > 0) {
    // Ratio 0: a SERVER span on a non-critical route means the head sampling decision leaked.
    problems.push(`${serverSpans} SERVER spans exported with head sampling ratio 0`);
  } else if (c.variant === 'production' || c.variant === 'stock-sampled') {
    // Head sampling at the production ratio: the SERVER spans are a binomial draw over the
    // requests. More than five standard deviations off means spans dropped (or a sampler that
    // is not the one the variant names).
    const problem = sampledSpanCheck(serverSpans, histogramDelta ?? wrk.requests, SAMPLING_RATIO.production, histogramDelta !== undefined ? 2 : 2 * edge);
    if (problem) problems.push(problem);
  }
  const n = Math.max(1, wrk.requests);
  const user = cpu1.user - c.cpu0.user;
  const cpu = user + cpu1.system - c.cpu0.system;
  return {
    round,
    variant: c.variant,
    workload,
    wrk,
    slices: c.slices.length,
    warmupRequests: c.warmupRequests,
    cpuSeconds: cpu,
    cpuUsPerRequest: (cpu * 1e6) / n,
    userCpuUsPerRequest: (user * 1e6) / n,
    spansPerRequest: (sink1.spans - sink0.spans) / n,
    serverSpansPerRequest: serverSpans / n,
    histogramDelta,
    problems,
  };
}

/**
 * The data check of a head-sampled variant: `serverSpans` SERVER spans for `requests` requests at
 * head sampling `ratio` should be within five binomial standard deviations (plus `slack` spans,
 * for requests at the edges of the slices) of ratio × requests; otherwise the problem, else
 * undefined.
 */
export function sampledSpanCheck(serverSpans: number, requests: number, ratio: number, slack: number): string | undefined {
  const expected = ratio * requests;
  const tolerance = 5 * Math.sqrt(requests * ratio * (1 - ratio)) + slack;
  if (Math.abs(serverSpans - expected) <= tolerance) return undefined;
  return `${serverSpans} SERVER spans exported for ${requests} requests at head sampling ratio ${ratio} (expected ${expected.toFixed(0)} ± ${tolerance.toFixed(0)})`;
}

/** s3rver, started by the bench itself so that it can see the process exit and restart it. */
interface BenchS3 extends Pick<S3rverHandle, 'endpoint' | 'bucket' | 'region' | 'accessKeyId' | 'secretAccessKey' | 'port'> {
  output: () => string;
  /** Why s3rver is no longer running (exit code or signal, its last output), or undefined. */
  exited: () => string | undefined;
  /** Starts it again on the same port and data directory (the fixture video survives). */
  restart: () => Promise<void>;
  stop: () => Promise<void>;
}

/** test/harness/s3rver-server.ts (s3rver + the multipart shim) on a free port, in its own temp dir. */
async function startBenchS3(): Promise<BenchS3> {
  const dir = tempDir('bench-s3rver');
  const port = await freePort();
  const bucket = 'videos';
  const script = join(ROOT, 'test/harness/s3rver-server.ts');
  let started: Started;
  const launch = async () => {
    started = startProcess(process.execPath, [script, dir.path, String(port), bucket]);
    await waitForPort(port, 20_000, started.proc);
  };
  await launch();
  const exited = () => {
    const p = started.proc;
    const gone = exitStatus(p);
    if (gone === undefined) return undefined;
    return `s3rver exited (${gone}): ${started.output().trim().split('\n').slice(-5).join(' / ').slice(-600)}`;
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region: 'us-east-1',
    // s3rver's built-in account (accepted by its SigV4 check).
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    port,
    output: () => started.output(),
    exited,
    restart: async () => {
      await started.stop();
      await launch();
    },
    stop: async () => {
      await started.stop();
      dir.cleanup();
    },
  };
}

function failedTrial(round: number, variant: Variant, workload: Workload, err: unknown): Trial {
  const e = err as { name?: string; message?: string };
  const why = `${e?.name ?? 'Error'}: ${(e?.message ?? String(err)).split('\n')[0]}`;
  return {
    round,
    variant,
    workload,
    wrk: { requests: 0, durationSeconds: 0, requestsPerSecond: 0, bytes: 0, statusErrors: 0, socketErrors: 0, p50: 0, p95: 0, p99: 0, max: 0 },
    slices: 0,
    warmupRequests: 0,
    cpuSeconds: 0,
    cpuUsPerRequest: 0,
    userCpuUsPerRequest: 0,
    spansPerRequest: 0,
    serverSpansPerRequest: 0,
    histogramDelta: undefined,
    problems: [],
    failed: why,
  };
}

/** Whether an HTTP server answers on `url` (any status) within 2 s; else why not. */
async function probe(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer().catch(() => undefined);
    return `answers (${res.status})`;
  } catch (err) {
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    return `no answer (${e.cause?.code ?? e.cause?.message ?? e.name ?? e.message})`;
  }
}

/**
 * After a trial with problems: is s3rver up (directly and through the delay proxy), what did the
 * service log as the cause of its failures (pino error lines), and what did s3rver print.
 */
async function diagnose(env: Env, s3: { endpoint: string; output: () => string }, logName: string): Promise<string[]> {
  const out = [`s3rver ${await probe(s3.endpoint)}, via the delay proxy ${await probe(env.s3.endpoint)}`];
  const file = join(env.logDir, `${logName}.log`);
  if (existsSync(file)) {
    const causes = new Map<string, number>();
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const rec = JSON.parse(line) as { level?: number; msg?: string; err?: { type?: string; message?: string; code?: string; name?: string } };
        if ((rec.level ?? 0) < 50) continue;
        const key = `${rec.msg ?? ''}: ${rec.err?.name ?? rec.err?.type ?? ''} ${rec.err?.code ?? ''} ${(rec.err?.message ?? '').slice(0, 160)}`.replace(/\s+/g, ' ').trim();
        causes.set(key, (causes.get(key) ?? 0) + 1);
      } catch {
        // not a JSON log line
      }
    }
    const top = [...causes].sort((a, b) => b[1] - a[1]).slice(0, 3);
    if (top.length > 0) out.push(`service errors: ${top.map(([k, n]) => `${n}× ${k}`).join(' | ')}`);
  }
  const s3out = s3.output().trim().split('\n').slice(-3).join(' / ');
  if (s3out) out.push(`s3rver output: ${s3out.slice(-400)}`);
  return out;
}

/** Copies the service logs out of the run's temp dir (removed at the end) for a post-mortem. */
function keepLogs(from: string): string {
  const to = mkdtempSync(join(tmpdir(), 'bench-overhead-logs-'));
  for (const f of readdirSync(from)) if (f.endsWith('.log')) copyFileSync(join(from, f), join(to, f));
  return to;
}

export interface BenchResult {
  options: BenchOptions;
  trials: Trial[];
  startedAt: string;
  elapsedSeconds: number;
  loadAverage: { start: number; end: number };
  /** Steal time of the services' CPU, % of its time: over the run and per round. */
  steal?: { run: number; rounds: number[] };
}

function serverCpuSteal(opts: BenchOptions): { steal: number; total: number } | undefined {
  try {
    return parseProcStatSteal(readFileSync('/proc/stat', 'utf8'), `cpu${opts.serverCpu}`);
  } catch {
    return undefined;
  }
}

function stealPercent(a: { steal: number; total: number } | undefined, b: { steal: number; total: number } | undefined): number {
  return a && b && b.total > a.total ? (100 * (b.steal - a.steal)) / (b.total - a.total) : Number.NaN;
}

/** Runs the benchmark; starts and stops everything it needs. */
/** The components every bench run needs, started, and the test video uploaded once. */
export interface BenchEnv {
  env: Env;
  s3: BenchS3;
  dir: { path: string };
  ctx: LoadContext;
  /** The upload workload's body (BENCH_UPLOAD_BYTES). */
  bodyFile: string;
  /** Stops everything this started and removes its temp dir. */
  close: () => Promise<void>;
}

/**
 * A busy loop at SCHED_IDLE priority pinned to `cpu` (BenchOptions.busyServerCpu): `chrt --idle 0`
 * runs it only when nothing else on that core is runnable, so it takes no CPU from the service and
 * the service's /proc figures do not include it.
 */
export async function startBusyLoop(taskset: string, cpu: number): Promise<{ pid: number; stop: () => Promise<void> }> {
  const chrt = requireBinary('chrt', 'apt-get install -y util-linux');
  const started = startProcess(chrt, ['--idle', '0', taskset, '-c', String(cpu), 'sh', '-c', 'while :; do :; done']);
  // chrt and taskset exec the next program, so the pid ends up the loop's; once it runs sh, both
  // have done their part (the policy and the core), which is checked rather than assumed.
  const pid = started.proc.pid!;
  await waitFor(
    () => {
      giveUpIfExited(started.proc);
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sh';
    },
    5_000,
    `the busy loop on CPU ${cpu}`,
  );
  const policy = spawnSync(chrt, ['-p', String(pid)], { encoding: 'utf8' }).stdout;
  if (!/SCHED_IDLE/.test(policy)) {
    await started.stop();
    throw new Error(`the busy loop did not get SCHED_IDLE: ${policy.trim()}`);
  }
  return { pid, stop: started.stop };
}

/**
 * s3rver behind the delay proxy, Redis, one OTLP sink per variant, the upload body, and the test
 * video uploaded through a baseline process (every trial reads it). With `pinHarness` (default)
 * this process, and s3rver and Redis which inherit it, move to the load generator's core.
 */
export async function startBenchEnv(opts: Pick<BenchOptions, 'variants' | 'pinHarness' | 'loadCpu' | 'serverCpu' | 'nodeFlags' | 'busyServerCpu'>, name: string): Promise<BenchEnv> {
  const wrk = requireBinary('wrk', 'apt-get install -y wrk');
  const taskset = requireBinary('taskset', 'apt-get install -y util-linux');
  if (opts.pinHarness !== false) spawnSync(taskset, ['-p', '-c', String(opts.loadCpu), String(process.pid)]);
  const busy = opts.busyServerCpu ? await startBusyLoop(taskset, opts.serverCpu) : undefined;
  if (busy) onExit(busy.stop);
  const dir = tempDir(name);
  onExit(async () => dir.cleanup());
  const s3 = await startBenchS3();
  onExit(s3.stop);
  const redis = await startRedis();
  onExit(redis.stop);
  const proxy = await startDelayProxy({ host: '127.0.0.1', port: s3.port }, BENCH_S3_DELAY_MS);
  const sinks = new Map<Variant, OtlpSink>();
  for (const v of opts.variants) sinks.set(v, await startOtlpSink());
  const env: Env = {
    s3: { endpoint: proxy.endpoint, bucket: s3.bucket, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    redisUrl: redis.url,
    sinks,
    logDir: dir.path,
    wrk,
    taskset,
  };
  const close = async () => {
    for (const sink of sinks.values()) await sink.close();
    await proxy.close();
    await redis.stop();
    await s3.stop();
    await busy?.stop();
    dir.cleanup();
    cleanups.clear();
  };
  try {
    const { signToken } = await import('../src/api/auth.ts');
    const token = signToken('bench-user', SESSION_SECRET);
    const bodyFile = join(dir.path, 'upload.bin');
    writeFileSync(bodyFile, makeBody({ bytes: BENCH_UPLOAD_BYTES, seed: 7 }));
    const fixtureSink = sinks.get('baseline') ?? [...sinks.values()][0]!;
    const svc = await startService(env, 'baseline', opts, 'fixture', fixtureSink);
    try {
      const [res] = await executePlan(`http://127.0.0.1:${svc.port}`, fixtureUpload(token, 1024 * 1024));
      if (!res || res.problems.length > 0 || !res.text) throw new Error(`fixture upload failed: ${res?.problems.join('; ')} ${res?.text ?? ''}`);
      const answer = JSON.parse(res.text) as UploadAnswer;
      const ctx: LoadContext = { token, video: { path: answer.url, bytes: 1024 * 1024 }, uploadLimitBytes: 1024 ** 3, rangeBytes: BENCH_STREAM_RANGE_BYTES };
      return { env, s3, dir, ctx, bodyFile, close };
    } finally {
      await svc.stop();
    }
  } catch (err) {
    await close();
    throw err;
  }
}

export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const started = Date.now();
  const load0 = loadavg()[0] ?? 0;
  const steal0 = serverCpuSteal(opts);
  const stealRounds: number[] = [];
  const { env, s3, dir, ctx, bodyFile, close } = await startBenchEnv(opts, 'bench-overhead');
  const sinks = env.sinks;
  const trials: Trial[] = [];
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const order = roundOrder(opts.variants, round);
      const report = async (t: Trial, s3Dead: string | undefined) => {
        // Its numbers measure error answers, not the service: the trial failed.
        if (s3Dead) t.failed ??= s3Dead;
        const logName = `r${round}-${t.variant}`;
        // Span-count mismatches say nothing about S3: diagnose failures and error answers only.
        if (t.failed || t.problems.some((p) => !/SERVER spans exported|histogram _count/.test(p))) t.problems.push(...(await diagnose(env, s3, logName)));
        trials.push(t);
        const head = `round ${round + 1}/${opts.rounds} ${t.variant.padEnd(11)} ${t.workload.padEnd(8)}`;
        log(
          t.failed
            ? `${head} FAILED: ${t.failed}${t.problems.length ? `  PROBLEMS: ${t.problems.join('; ')}` : ''}`
            : `${head} ${t.wrk.requestsPerSecond.toFixed(0).padStart(6)} req/s ` +
                `${t.cpuUsPerRequest.toFixed(1).padStart(7)} µs CPU/req  P95 ${(t.wrk.p95 * 1000).toFixed(2)} ms  spans/req ${t.spansPerRequest.toFixed(2)}` +
                (t.problems.length ? `  PROBLEMS: ${t.problems.join('; ')}` : ''),
        );
      };
      const dead = s3.exited();
      if (dead) {
        log(`${dead}; restarting it`);
        await s3.restart();
      }
      const roundSteal0 = serverCpuSteal(opts);
      // Every variant of the round as a fresh process, all alive for the round.
      const services: { variant: Variant; svc: Service }[] = [];
      try {
        for (const variant of order) {
          try {
            services.push({ variant, svc: await startService(env, variant, opts, `r${round}-${variant}`, sinks.get(variant)!) });
          } catch (err) {
            for (const workload of opts.workloads) await report(failedTrial(round, variant, workload, err), undefined);
          }
        }
        for (const workload of opts.workloads) {
          if (services.length === 0) break;
          const phase = await measureTogether(env, opts, services, round, workload, ctx, bodyFile);
          // s3rver dying would fail every later S3 trial: say so, and start it again.
          const s3Dead = s3.exited();
          for (const t of phase) await report(t, s3Dead);
          if (s3Dead) {
            log(`${s3Dead}; restarting it`);
            await s3.restart();
          }
        }
      } finally {
        for (const { svc } of services) await svc.stop();
      }
      const st = stealPercent(roundSteal0, serverCpuSteal(opts));
      stealRounds.push(st);
      if (Number.isFinite(st)) log(`round ${round + 1}/${opts.rounds}: ${st.toFixed(1)} % steal on CPU ${opts.serverCpu}`);
    }
  } finally {
    if (trials.some((t) => t.failed || t.problems.length > 0)) log(`service logs kept in ${keepLogs(dir.path)}`);
    await close();
  }
  return {
    options: opts,
    trials,
    startedAt: new Date(started).toISOString(),
    elapsedSeconds: (Date.now() - started) / 1000,
    loadAverage: { start: load0, end: loadavg()[0] ?? 0 },
    ...(steal0 ? { steal: { run: stealPercent(steal0, serverCpuSteal(opts)), rounds: stealRounds } } : {}),
  };
}

// Reporting -----------------------------------------------------------------------------------

export interface Row {
  variant: Variant;
  workload: Workload;
  trials: number;
  rps: number;
  cpuUs: number;
  /** User and kernel parts of cpuUs. */
  userCpuUs: number;
  kernelCpuUs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  spansPerRequest: number;
  serverSpansPerRequest: number;
  histogramOk: boolean | undefined;
  problems: string[];
  /** Paired vs the baseline of the same rounds (undefined for the baseline itself). */
  cpuAddedUs?: { diff: number; low: number; high: number };
  /** cpuAddedUs split: what the variant added in user time and in kernel time. */
  userCpuAddedUs?: { diff: number; low: number; high: number };
  kernelCpuAddedUs?: { diff: number; low: number; high: number };
  cpuRatio?: { ratio: number; low: number; high: number };
  rpsRatio?: { ratio: number; low: number; high: number };
  p95Ratio?: { ratio: number; low: number; high: number };
}

const kernelUs = (t: Trial): number => t.cpuUsPerRequest - t.userCpuUsPerRequest;

export function summarize(result: BenchResult): Row[] {
  const rows: Row[] = [];
  // Failed trials have no numbers: they are left out (listed under problems), and a variant is
  // paired with the baseline only over the rounds where both were measured.
  const pick = (v: Variant, w: Workload) => result.trials.filter((t) => t.variant === v && t.workload === w && !t.failed).sort((a, b) => a.round - b.round);
  // A workload whose every trial failed still gets its row (NaN numbers, its failures listed).
  const avg = (xs: number[]) => (xs.length > 0 ? mean(xs) : Number.NaN);
  const med = (xs: number[], q: number) => (xs.length > 0 ? percentile(xs, q) : Number.NaN);
  const failures = (v: Variant, w: Workload) =>
    result.trials.filter((t) => t.variant === v && t.workload === w && t.failed).map((t) => `round ${t.round + 1} failed: ${t.failed}`);
  for (const w of result.options.workloads) {
    const base = pick('baseline', w);
    for (const v of result.options.variants) {
      const ts = pick(v, w);
      const failed = failures(v, w);
      if (ts.length === 0 && failed.length === 0) continue;
      const row: Row = {
        variant: v,
        workload: w,
        trials: ts.length,
        rps: avg(ts.map((t) => t.wrk.requestsPerSecond)),
        cpuUs: avg(ts.map((t) => t.cpuUsPerRequest)),
        userCpuUs: avg(ts.map((t) => t.userCpuUsPerRequest)),
        kernelCpuUs: avg(ts.map(kernelUs)),
        p50Ms: med(ts.map((t) => t.wrk.p50 * 1000), 0.5),
        p95Ms: med(ts.map((t) => t.wrk.p95 * 1000), 0.5),
        p99Ms: med(ts.map((t) => t.wrk.p99 * 1000), 0.5),
        spansPerRequest: avg(ts.map((t) => t.spansPerRequest)),
        serverSpansPerRequest: avg(ts.map((t) => t.serverSpansPerRequest)),
        histogramOk: ts.every((t) => t.histogramDelta === undefined) ? undefined : ts.every((t) => t.histogramDelta !== undefined && !t.problems.some((p) => p.startsWith('histogram'))),
        problems: [...failed, ...new Set(result.trials.filter((t) => t.variant === v && t.workload === w).flatMap((t) => t.problems))],
      };
      const rounds = new Set(base.map((t) => t.round));
      const paired = ts.filter((t) => rounds.has(t.round));
      if (v !== 'baseline' && paired.length > 0) {
        const b = base.filter((t) => paired.some((p) => p.round === t.round));
        row.cpuAddedUs = pairedDifference(b.map((t) => t.cpuUsPerRequest), paired.map((t) => t.cpuUsPerRequest));
        row.userCpuAddedUs = pairedDifference(b.map((t) => t.userCpuUsPerRequest), paired.map((t) => t.userCpuUsPerRequest));
        row.kernelCpuAddedUs = pairedDifference(b.map(kernelUs), paired.map(kernelUs));
        row.cpuRatio = pairedRatio(b.map((t) => t.cpuUsPerRequest), paired.map((t) => t.cpuUsPerRequest));
        row.rpsRatio = pairedRatio(b.map((t) => t.wrk.requestsPerSecond), paired.map((t) => t.wrk.requestsPerSecond));
        row.p95Ratio = pairedRatio(b.map((t) => t.wrk.p95), paired.map((t) => t.wrk.p95));
      }
      rows.push(row);
    }
  }
  return rows;
}

const pctCi = (r?: { ratio: number; low: number; high: number }) =>
  r ? `${fmtPct(r.ratio - 1)} [${fmtPct(r.low - 1)}, ${fmtPct(r.high - 1)}]` : '—';
const fmtPct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %` : '∞');

export function table(rows: Row[]): string {
  const head =
    '| workload | variant | req/s | CPU µs/req (user + kernel) | added CPU µs/req [95 % CI] | added user / kernel µs/req [95 % CI] | CPU overhead [95 % CI] | throughput change [95 % CI] | P50 ms | P95 ms | P99 ms | P95 change [95 % CI] | spans/req (server) | histogram = requests |';
  const sep = '|' + '---|'.repeat(14);
  const lines = rows.map(
    (r) =>
      `| ${r.workload} | ${r.variant} | ${r.rps.toFixed(0)} | ${r.cpuUs.toFixed(1)} (${r.userCpuUs.toFixed(1)} + ${r.kernelCpuUs.toFixed(1)}) | ${formatDifference(r.cpuAddedUs)} | ` +
      `${r.userCpuAddedUs ? `${formatDifference(r.userCpuAddedUs)} / ${formatDifference(r.kernelCpuAddedUs)}` : '—'} | ${pctCi(r.cpuRatio)} | ${pctCi(r.rpsRatio)} | ` +
      `${r.p50Ms.toFixed(2)} | ${r.p95Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${pctCi(r.p95Ratio)} | ${r.spansPerRequest.toFixed(2)} (${r.serverSpansPerRequest.toFixed(2)}) | ` +
      `${r.histogramOk === undefined ? 'n/a' : r.histogramOk ? 'yes' : 'NO'} |`,
  );
  return [head, sep, ...lines].join('\n');
}

/** The issue-6 claims, each judged on its confidence interval. */
export function claims(rows: Row[]): { claim: string; result: 'holds' | 'fails' | 'inconclusive' | 'not measured'; evidence: string }[] {
  const find = (v: Variant, w: Workload) => rows.find((r) => r.variant === v && r.workload === w);
  const out: { claim: string; result: 'holds' | 'fails' | 'inconclusive' | 'not measured'; evidence: string }[] = [];
  const cpu = (v: Variant, target: number) => {
    const r = find(v, 'healthz');
    out.push({
      claim: `added CPU per request on GET /healthz at ${v === 'full' ? '100 % sampling' : 'the production profile'} ≤ ${target} µs`,
      result: r?.cpuAddedUs ? verdict(r.cpuAddedUs.low, r.cpuAddedUs.high, target) : 'not measured',
      evidence: r?.cpuAddedUs ? `${formatDifference(r.cpuAddedUs)} µs (user ${formatDifference(r.userCpuAddedUs)}, kernel ${formatDifference(r.kernelCpuAddedUs)})` : '',
    });
  };
  cpu('production', CPU_OVERHEAD_TARGET_US_PRODUCTION);
  cpu('full', CPU_OVERHEAD_TARGET_US_FULL_SAMPLING);
  for (const v of ['production', 'full'] as const) {
    for (const w of ['stream', 'redirect', 'upload'] as const) {
      const r = find(v, w);
      const label = v === 'production' ? 'production profile' : '100 % sampling';
      if (!r?.p95Ratio || !r.rpsRatio || !r.cpuRatio) {
        out.push({ claim: `${w} at ${label}: overhead < ${OVERHEAD_BUDGET_RATIO * 100} %`, result: 'not measured', evidence: '' });
        continue;
      }
      out.push({
        claim: `${w} at ${label}: P95 latency overhead < ${OVERHEAD_BUDGET_RATIO * 100} %`,
        result: verdict(r.p95Ratio.low - 1, r.p95Ratio.high - 1, OVERHEAD_BUDGET_RATIO),
        evidence: pctCi(r.p95Ratio),
      });
      out.push({
        claim: `${w} at ${label}: throughput loss < ${OVERHEAD_BUDGET_RATIO * 100} %`,
        result: verdict(1 - r.rpsRatio.high, 1 - r.rpsRatio.low, OVERHEAD_BUDGET_RATIO),
        evidence: pctCi(r.rpsRatio),
      });
      if (w !== 'redirect') {
        out.push({
          claim: `${w} at ${label}: CPU per request overhead < ${OVERHEAD_BUDGET_RATIO * 100} %`,
          result: verdict(r.cpuRatio.low - 1, r.cpuRatio.high - 1, OVERHEAD_BUDGET_RATIO),
          evidence: pctCi(r.cpuRatio),
        });
      }
    }
  }
  return out;
}

/** Our telemetry against the stock setup at the same sampling, paired by round. */
export interface StockComparison {
  workload: Workload;
  ours: Variant;
  stock: Variant;
  /** Added CPU µs per request vs the baseline (from the rows). */
  oursAddedUs: number;
  stockAddedUs: number;
  /** Ours − stock, CPU µs per request, paired by round. */
  cpuDiffUs: PairedDifference;
  /** Ours / stock throughput and P95, paired by round. */
  rpsRatio: PairedRatio;
  p95Ratio: PairedRatio;
}

/** The pairs the stock comparison makes: ours at the production profile against the stock setup at the same ratio, and at 100 %. */
export const STOCK_PAIRS: readonly { ours: Variant; stock: Variant; label: string }[] = [
  { ours: 'production', stock: 'stock-sampled', label: `head sampling ${SAMPLING_RATIO.production * 100} %` },
  { ours: 'full', stock: 'stock', label: '100 % sampling' },
];

export function stockComparisons(result: BenchResult, rows: Row[]): StockComparison[] {
  const out: StockComparison[] = [];
  const measured = (v: Variant, w: Workload) => new Map(result.trials.filter((t) => t.variant === v && t.workload === w && !t.failed).map((t) => [t.round, t]));
  for (const w of result.options.workloads) {
    for (const { ours, stock } of STOCK_PAIRS) {
      const o = measured(ours, w);
      const s = measured(stock, w);
      const rounds = [...o.keys()].filter((r) => s.has(r)).sort((a, b) => a - b);
      const oursRow = rows.find((r) => r.variant === ours && r.workload === w);
      const stockRow = rows.find((r) => r.variant === stock && r.workload === w);
      if (rounds.length === 0 || !oursRow?.cpuAddedUs || !stockRow?.cpuAddedUs) continue;
      const a = rounds.map((r) => s.get(r)!);
      const b = rounds.map((r) => o.get(r)!);
      out.push({
        workload: w,
        ours,
        stock,
        oursAddedUs: oursRow.cpuAddedUs.diff,
        stockAddedUs: stockRow.cpuAddedUs.diff,
        cpuDiffUs: pairedDifference(a.map((t) => t.cpuUsPerRequest), b.map((t) => t.cpuUsPerRequest)),
        rpsRatio: pairedRatio(a.map((t) => t.wrk.requestsPerSecond), b.map((t) => t.wrk.requestsPerSecond)),
        p95Ratio: pairedRatio(a.map((t) => t.wrk.p95), b.map((t) => t.wrk.p95)),
      });
    }
  }
  return out;
}

/** The report's section on the stock comparisons (nothing when the run had no pair). */
export function stockSection(comparisons: StockComparison[]): string[] {
  if (comparisons.length === 0) return [];
  // Uploads are a critical route: ours samples every one at the production profile, the stock
  // sampler one in ten, so that row compares more spans of ours with fewer of stock's.
  const label = (c: StockComparison) =>
    `${STOCK_PAIRS.find((p) => p.ours === c.ours)?.label ?? ''}${c.workload === 'upload' && c.ours === 'production' ? ' (ours keeps every upload, a critical route)' : ''}`;
  const share = (c: StockComparison) => (c.stockAddedUs > 0 ? `${((c.oursAddedUs / c.stockAddedUs) * 100).toFixed(0)} %` : 'n/a');
  return [
    '## Ours against the stock setup',
    '',
    'The stock setup (NodeSDK + instrumentation-http + BatchSpanProcessor, bench/stock-register.ts) at the same sampling as ours, paired by round; "ours − stock" is per request, a negative figure means ours costs less.',
    '',
    '| workload | sampling | ours | stock | added CPU µs/req, ours / stock | ours / stock added | ours − stock CPU µs/req [95 % CI] | throughput, ours vs stock [95 % CI] | P95, ours vs stock [95 % CI] |',
    '|---|---|---|---|---|---|---|---|---|',
    ...comparisons.map(
      (c) =>
        `| ${c.workload} | ${label(c)} | ${c.ours} | ${c.stock} | ${c.oursAddedUs.toFixed(1)} / ${c.stockAddedUs.toFixed(1)} | ${share(c)} | ${formatDifference(c.cpuDiffUs)} | ${pctCi(c.rpsRatio)} | ${pctCi(c.p95Ratio)} |`,
    ),
    '',
  ];
}

/** What the positive control says about the method, per workload where it ran. */
export function calibrationCheck(rows: Row[]): string[] {
  const lines = rows
    .filter((r) => r.variant === 'calibration' && r.userCpuAddedUs && r.kernelCpuAddedUs)
    .map((r) => {
      const share = r.kernelCpuAddedUs!.diff / r.userCpuAddedUs!.diff;
      return `- ${r.workload}: a known userland cost measured as ${formatDifference(r.userCpuAddedUs)} µs/req of user CPU came with ${formatDifference(r.kernelCpuAddedUs)} µs/req of kernel CPU (${Number.isFinite(share) ? `${(share * 100).toFixed(0)} %` : 'n/a'} of the user time).`;
    });
  return lines.length === 0 ? [] : ['## Method check: the calibration variant', '', ...lines, '', 'Kernel time that comes with pure userland work is what the closed loop on loopback charges a slower service (waking wrk); a variant whose added kernel share is near this one adds little kernel work of its own.', ''];
}

function versions(): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  for (const p of ['@opentelemetry/api', '@opentelemetry/sdk-trace', '@opentelemetry/sdk-node', '@opentelemetry/instrumentation-http', 'fastify', 'prom-client', 's3rver']) {
    try {
      out[p] = (JSON.parse(readFileSync(join(ROOT, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      out[p] = 'not installed';
    }
  }
  const w = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  out.wrk = `${w.stdout}${w.stderr}`.split('\n')[0]?.trim() ?? '';
  return out;
}

/** How many requests each process had served before its measured phase, per workload. */
function warmupLine(result: BenchResult): string {
  const ok = result.trials.filter((t) => t.failed === undefined);
  const parts = result.options.workloads.flatMap((w) => {
    const n = ok.filter((t) => t.workload === w).map((t) => t.warmupRequests);
    return n.length === 0 ? [] : [`${w} ${Math.min(...n)}–${Math.max(...n)}`];
  });
  return parts.length === 0 ? '' : `Warm-up requests per process: ${parts.join(', ')}.`;
}

export function markdown(result: BenchResult, rows: Row[], command: string): string {
  const o = result.options;
  const v = versions();
  const c = claims(rows);
  return [
    '# Instrumentation overhead benchmark',
    '',
    `Generated by \`${command}\` on ${result.startedAt} (${result.elapsedSeconds.toFixed(0)} s). Everything down to the claims is generated; rerun the command rather than editing it. Which targets hold across all the published runs, not this one alone: docs/benchmarks.md, "Where the targets stand".`,
    '',
    '## Machine and versions',
    '',
    `- CPU: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length} (services pinned to CPU ${o.serverCpu}; wrk, s3rver, Redis, the S3 delay proxy and the OTLP sinks on CPU ${o.loadCpu})`,
    `- Kernel: Linux ${release()}`,
    `- Load average (1 min) at the start and end of the run: ${result.loadAverage.start.toFixed(2)} and ${result.loadAverage.end.toFixed(2)} (other work shared these ${cpus().length} cores; CPU per request is the figure least affected by it)`,
    ...(result.steal && Number.isFinite(result.steal.run)
      ? [
          `- Steal time of CPU ${result.options.serverCpu} (the hypervisor running other guests while the services had work): ${result.steal.run.toFixed(1)} % over the run; per round ${result.steal.rounds.map((r) => (Number.isFinite(r) ? r.toFixed(1) : '?')).join(', ')} %`,
        ]
      : []),
    ...Object.entries(v).map(([k, val]) => `- ${k}: ${val}`),
    '',
    '## Method',
    '',
    ...(o.nodeFlags?.length ? [`- Every variant's process ran with \`node ${o.nodeFlags.join(' ')}\` (the same V8 settings for all).`] : []),
    ...(o.busyServerCpu
      ? [`- CPU ${o.serverCpu} never went idle: a busy loop at SCHED_IDLE priority (\`--busy-server-cpu\`) ran on it for the whole run, taking the core only when no service thread wanted it; its CPU is not in any service's figures. Without it the services' core idles between requests on the S3 workloads, and code run after an idle spell costs more (docs/benchmarks.md, "Session 24").`]
      : []),
    `- ${o.rounds} rounds; each round starts every variant (${o.variants.join(', ')}) as a fresh \`video-api\` process, all alive side by side for the round, in the order of a row of a Williams design: over every ${o.variants.length % 2 === 0 ? o.variants.length : 2 * o.variants.length} rounds each variant takes every place in the order and is next to every other variant equally often.`,
    `- Per workload: one preflight request per process checked against its expected status, then the processes take turns under \`wrk -t1 -c${o.connections}\` (closed loop) in ${o.sliceSeconds} s slices, the order reversing every slice, until each has had ${o.warmupSeconds} s of warm-up${o.warmupConnections !== undefined && o.warmupConnections !== o.connections ? ` (under \`-c${o.warmupConnections}\`: the JIT warms up per request, and more connections serve more of them in the same seconds)` : ''} and ${o.seconds} s measured. ${warmupLine(result)} Slices this short give every variant of a round the same machine speed, which drifts here by tens of percent within a minute.`,
    `- CPU per request = (utime + stime of the service process from /proc/<pid>/stat over its whole measured phase, i.e. its slices, its idle time while the others are loaded, and ${FLUSH_WAIT_MS} ms after the last slice for the last span batch) / requests completed in its slices; the user (utime) and kernel (stime) parts are also reported apart.`,
    `- \`calibration\` is a positive control: the baseline plus ${BENCH_CALIBRATION_LOOP_ITERATIONS} iterations of dependent integer arithmetic before every request (bench/calibration-register.ts, from Node's \`http.server.request.start\` diagnostics channel): userland work only, no telemetry. The kernel time it adds is charged by the method, not by the work: on loopback the service's response write delivers the data to wrk's socket and wakes wrk up inside the service's own system call, and the slower the service answers, the more often wrk has gone idle and must be woken from another CPU. Any variant that slows the service pays this too, so part of its added CPU is the method's; the user/kernel split and the calibration row show how much.`,
    '- Latency percentiles are the request-weighted means of the slices\' percentiles; throughput is requests over the slices\' duration.',
    `- S3 is s3rver behind a TCP proxy adding ${BENCH_S3_DELAY_MS.min}–${BENCH_S3_DELAY_MS.max} ms per direction, drawn afresh for every request and every response; OTLP goes to a local sink per variant that counts spans and discards them.`,
    `- Overheads are paired with the baseline trial of the same round: ratios are geometric means of per-round ratios, with a 95 % Student-t interval on their logs; \`baseline-aa\` is a second baseline, so its row is the noise floor.`,
    `- Production profile: DEPLOYMENT_ENVIRONMENT=production (head sampling ratio ${SAMPLING_RATIO.production}; uploads are critical routes, always sampled). Unsampled: the same with OTEL_TRACES_SAMPLER_ARG=0 (nothing sampled but the critical routes), so production minus unsampled is what the sampled ${SAMPLING_RATIO.production * 100} % of requests add. Full: the same with OTEL_TRACES_SAMPLER_ARG=1. Stock: NodeSDK + instrumentation-http + BatchSpanProcessor exporting OTLP/protobuf (bench/stock-register.ts; the app's own spans reach it through @opentelemetry/api), every request sampled; stock-sampled: the same with OTEL_TRACES_SAMPLER=parentbased_traceidratio at ${SAMPLING_RATIO.production}.`,
    '- Workloads: `healthz` = GET /healthz (the cheapest traced endpoint); `stream` = a proxied 64 KiB range (206); `redirect` = the presigned 302 (wrk does not follow it); `upload` = POST of a 64 KiB file (201, multipart to S3, a queue job).',
    '- A trial that cannot be measured (the service does not start, a preflight request times out, wrk fails) is reported as failed under "Problems seen" and left out of its row and of the pairing; after a trial with problems the run checks s3rver (directly and through the delay proxy) and the service log, and if s3rver has exited it is started again on the same data directory.',
    '- In a closed loop, latency ≈ connections / throughput when the service is CPU-bound (healthz), so P95 and throughput overheads move together there; the S3 workloads are latency-bound.',
    '',
    '## Results',
    '',
    table(rows),
    '',
    '## Claims',
    '',
    '| claim | result | evidence (paired, 95 % CI) |',
    '|---|---|---|',
    ...c.map((x) => `| ${x.claim} | **${x.result}** | ${x.evidence} |`),
    '',
    'A claim holds only when its whole confidence interval is inside the target; "inconclusive" means the interval straddles it (more rounds would decide), "fails" means the whole interval is outside.',
    '',
    ...calibrationCheck(rows),
    ...stockSection(stockComparisons(result, rows)),
    ...(rows.some((r) => r.problems.length > 0)
      ? ['## Problems seen', '', ...rows.filter((r) => r.problems.length > 0).map((r) => `- ${r.workload}/${r.variant}: ${r.problems.join('; ')}`), '']
      : []),
  ].join('\n');
}

// CLI -----------------------------------------------------------------------------------------

/**
 * The file `--write` leaves: the new report in place of the file's first generated section, and
 * everything from the first separator line (`---`: further runs) or `## Not generated` heading
 * (hand-written notes) kept as it was. A file without either is replaced whole.
 */
export function mergeReport(existing: string | undefined, report: string): { text: string; keptLines: number } {
  if (existing === undefined) return { text: report, keptLines: 0 };
  const lines = existing.split('\n');
  const at = lines.findIndex((l) => l === '---' || l.startsWith('## Not generated'));
  if (at < 0) return { text: report, keptLines: 0 };
  const tail = lines.slice(at);
  return { text: `${report.replace(/\n+$/, '')}\n\n${tail.join('\n')}`, keptLines: tail.length };
}


export const OVERHEAD_USAGE = `usage: npm run bench:overhead -- [options]
  --quick                  a CI-sized run (3 rounds, 1 s warm-up, 2 s measured; no stock, stock-sampled, unsampled or calibration; no file written)
  --rounds N               rounds of fresh processes (default 5)
  --seconds S              measured seconds per process and workload (default 4)
  --warmup S               warm-up seconds per process and workload (default 8)
  --slice S                seconds per load slice; the processes of a round take turns (default 1)
  --variants a,b           of ${VARIANTS.join(', ')} (baseline is always run)
  --workloads a,b          of ${WORKLOADS.join(', ')}
  --connections N          wrk connections while measuring (default 8)
  --warmup-connections N   wrk connections while warming up (default: --connections)
  --server-cpu N           the core the services are pinned to (default 1)
  --load-cpu N             the core of wrk and the components (default 0)
  --node-flags "--a --b"   Node options for every service process
  --busy-server-cpu        keep the services' core from idling (a SCHED_IDLE busy loop on it)
  --write FILE             write the report there (default docs/benchmarks.md; its first section only)
  --json FILE              write the raw trials and rows as JSON
docs/load-tests.md explains the method; docs/benchmarks.md holds the published runs.`;

const OVERHEAD_CLI: CliSpec = {
  values: ['--rounds', '--seconds', '--warmup', '--slice', '--variants', '--workloads', '--connections', '--warmup-connections', '--server-cpu', '--load-cpu', '--node-flags', '--write', '--json'],
  flags: ['--quick', '--busy-server-cpu'],
  usage: OVERHEAD_USAGE,
};

export function parseArgs(argv: readonly string[]): { opts: BenchOptions; write?: string; json?: string } {
  const quick = argv.includes('--quick');
  const { val, list, nodeFlags } = cliOptions(argv, OVERHEAD_CLI);
  // --quick leaves out the stock references (the slowest variants to start), the unsampled
  // breakdown and the calibration control; name them to include them.
  const variants = list('--variants', VARIANTS, quick ? VARIANTS.filter((v) => v !== 'stock' && v !== 'stock-sampled' && v !== 'unsampled' && v !== 'calibration') : VARIANTS);
  if (!variants.includes('baseline')) variants.unshift('baseline');
  const opts: BenchOptions = {
    rounds: Number(val('--rounds') ?? (quick ? 3 : 5)),
    seconds: Number(val('--seconds') ?? (quick ? 2 : 4)),
    // A fresh process needs ~10 s of load to reach steady state (the JIT is still compiling the
    // hot paths, more of them in the instrumented variants: docs/benchmarks.md, "Warm-up").
    warmupSeconds: Number(val('--warmup') ?? (quick ? 1 : 8)),
    sliceSeconds: Number(val('--slice') ?? 1),
    connections: Number(val('--connections') ?? 8),
    variants,
    workloads: list('--workloads', WORKLOADS),
    serverCpu: Number(val('--server-cpu') ?? 1),
    loadCpu: Number(val('--load-cpu') ?? 0),
  };
  if (argv.includes('--busy-server-cpu')) opts.busyServerCpu = true;
  const flags = nodeFlags();
  if (flags !== undefined) opts.nodeFlags = flags;
  const warmupConnections = val('--warmup-connections');
  if (warmupConnections !== undefined) opts.warmupConnections = Number(warmupConnections);
  for (const [k, n] of Object.entries({ rounds: opts.rounds, seconds: opts.seconds, connections: opts.connections, slice: opts.sliceSeconds, 'warmup-connections': opts.warmupConnections ?? 1 })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} must be a positive integer`);
  }
  if (!Number.isInteger(opts.warmupSeconds) || opts.warmupSeconds < 0) throw new Error('--warmup must be a whole number of seconds (0 or more)');
  const write = val('--write') ?? (quick ? undefined : join(ROOT, 'docs/benchmarks.md'));
  const json = val('--json');
  return { opts, ...(write ? { write } : {}), ...(json ? { json } : {}) };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  exitWithUsageIfAsked(argv, OVERHEAD_USAGE);
  const { opts, write, json } = parseArgs(argv);
  console.log(`bench:overhead${argv.length ? ` ${argv.join(' ')}` : ''}: ${opts.rounds} rounds × ${opts.variants.length} variants × ${opts.workloads.length} workloads × ${opts.seconds} s`);
  const result = await runBench(opts);
  const rows = summarize(result);
  console.log(`\n${table(rows)}\n`);
  for (const c of claims(rows)) console.log(`${c.result.padEnd(12)} ${c.claim}  ${c.evidence}`);
  const vsStock = stockSection(stockComparisons(result, rows));
  if (vsStock.length > 0) console.log(`\n${vsStock.join('\n')}`);
  // Arguments with spaces (--node-flags "...") are quoted, so the printed command reruns as is.
  const command = `npm run bench:overhead${argv.length ? ` -- ${argv.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}` : ''}`;
  if (json) writeFileSync(json, JSON.stringify({ result, rows }, null, 2));
  if (write) {
    const { text, keptLines } = mergeReport(existsSync(write) ? readFileSync(write, 'utf8') : undefined, markdown(result, rows, command));
    writeFileSync(write, text);
    console.log(`wrote ${write}${keptLines ? ` (its first section; the ${keptLines} lines from its first "---" or "## Not generated" on are kept)` : ''}`);
  }
  console.log(`done in ${result.elapsedSeconds.toFixed(0)} s`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      interrupted = true;
      console.error(`${sig}: stopping the services and components this run started`);
      // In reverse start order: the running service first, s3rver and the temp dir last.
      void (async () => {
        for (const fn of [...cleanups].reverse()) await fn().catch(() => undefined);
      })().finally(() => process.exit(130));
    });
  }
  // Safety net: a stray rejection (an aborted fetch whose body nobody awaits) must not kill a
  // long run; the trial it belonged to has already been reported as failed by its own catch.
  process.on('unhandledRejection', (err: unknown) => console.error('unhandled rejection (run continues):', err));
  main().catch((err: unknown) => {
    // After a signal the run fails on purpose (its service is gone): the handler exits.
    if (interrupted) return;
    console.error(err);
    process.exit(1);
  });
}
