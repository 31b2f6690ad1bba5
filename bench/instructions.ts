// `npm run bench:instructions`: instructions per request under callgrind, the noise-free
// companion of bench:overhead's CPU time.
//
// CPU time per request on this machine moves by tens of percent between identical processes and
// within a minute (docs/benchmarks.md), so a few µs of telemetry cost need many rounds to show,
// and where they come from cannot be seen at all. Instructions executed do not depend on the
// machine's speed: each variant's service runs under valgrind's callgrind, warms up with
// `--warmup` requests (counting off) until the JIT has compiled the hot paths, and then counts the
// instructions of every thread (the main thread, V8's compiler and GC threads, the export thread)
// over `--requests` more requests and the flush after them. Reported per request, with the share
// spent in V8's optimizing compilers (left over from the warm-up: should be near 0) and in the GC.
// Instructions are user-space work only: system calls, cache misses and the kernel's network
// stack are not in them, so they rank and explain costs; the µs claims stay bench:overhead's.
//
// The same components as bench:overhead (s3rver behind the delay proxy, Redis, one OTLP sink per
// variant), the same variants and workloads; requests come from a keep-alive client with
// `--connections` connections, renewed every `--chunk` requests as wrk's slices renew them.
//
// node bench/instructions.ts [--variants a,b] [--workloads a,b] [--rounds N] [--warmup N]
// [--requests N] [--connections N] [--chunk N] [--write file.md] [--json out.json]
// [--node-flags "--perf-basic-prof"] [--keep dir]  (keep the dumps, and the JIT code names
// Node's --perf-basic-prof writes, to read them with callgrind_annotate afterwards)
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBody, type RequestPlan } from '../load-tests/scenarios.ts';
import { requireBinary } from '../test/harness/process.ts';
import { SPANS_DROPPED, SPANS_EXPORTED, SPANS_STARTED } from '../src/signals/index.ts';
import { cliOptions, exitWithUsageIfAsked, type CliSpec } from './cli.ts';
import { cleanups, FLUSH_WAIT_MS, scrape, startBenchEnv, startService, VARIANTS, WORKLOADS, workloadRun, type BenchEnv, type Variant, type Workload } from './overhead.ts';
import { sampleSum } from './stats.ts';


export interface InstructionOptions {
  variants: readonly Variant[];
  workloads: readonly Workload[];
  rounds: number;
  /** Requests before counting starts, per workload and process. */
  warmup: number;
  /** Counted requests per workload and process. */
  requests: number;
  connections: number;
  /** New connections every this many requests (0: keep them for the whole phase). */
  chunk: number;
  serverCpu: number;
  loadCpu: number;
  pinHarness?: boolean;
  /** Node options for every service process (e.g. --perf-basic-prof, to name JIT code in the dumps). */
  nodeFlags?: readonly string[];
  /** Keep each counted dump here (`r<round>-<variant>-<workload>.callgrind`, plus the process's `.perf.map` when Node wrote one). */
  keep?: string;
  log?: (line: string) => void;
}

export interface InstructionTrial {
  round: number;
  variant: Variant;
  workload: Workload;
  requests: number;
  /** Instructions per request, all threads, over the counted requests and the flush after them. */
  perRequest: number;
  /** Of which in V8's optimizing compilers (TurboFan, Maglev) and in the garbage collector. */
  compilePerRequest: number;
  gcPerRequest: number;
  serverSpansPerRequest: number;
  problems: string[];
  failed?: string;
}

const COMPILE = /v8::internal::(compiler|maglev)::|v8::internal::Zone|v8::internal::(Pipeline|OptimizedCompilationJob|TurbofanCompilationJob)/;
const GC = /v8::internal::(Scavenger|Heap::|MarkCompact|Marking|MinorMark|ConcurrentMarking|Sweeper|MemoryAllocator|PagedSpace|SemiSpace|GCTracer|IncrementalMarking|EvacuateVisitor|RememberedSet|heap::)|heap::base::|cppgc::/;

/** Under valgrind the export thread's first start alone takes seconds. */
const SETTLE_TIMEOUT_MS = 60_000;

/**
 * Resolves true once the service has exported or dropped every sampled span it started (its
 * telemetry-health counters; a process without telemetry has none), false after `timeoutMs`.
 */
export async function spansSettled(metricsPort: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = await scrape(metricsPort);
    const started = sampleSum(text, SPANS_STARTED) ?? 0;
    if (text !== '' && started === (sampleSum(text, SPANS_EXPORTED) ?? 0) + (sampleSum(text, SPANS_DROPPED) ?? 0)) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Sums `callgrind_annotate` self costs: total, compiler and GC. */
export function categorize(annotated: string): { total: number; compile: number; gc: number } {
  let total = 0;
  let compile = 0;
  let gc = 0;
  for (const line of annotated.split('\n')) {
    const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (!m || m[2]!.includes('PROGRAM TOTALS')) continue;
    const ir = Number(m[1]!.replaceAll(',', ''));
    total += ir;
    if (COMPILE.test(m[2]!)) compile += ir;
    else if (GC.test(m[2]!)) gc += ir;
  }
  return { total, compile, gc };
}

/** The `totals:` line of a callgrind dump (instructions when only Ir is collected). */
export function callgrindTotal(dump: string): number {
  const m = /^totals:\s+(\d+)/m.exec(dump);
  if (!m) throw new Error('callgrind dump without a totals line');
  return Number(m[1]);
}

interface DriveResult {
  ok: number;
  problems: string[];
}

/** `n` requests of `plan` over `connections` keep-alive connections, renewed every `chunk` requests. */
async function drive(port: number, plan: RequestPlan, n: number, connections: number, chunk: number): Promise<DriveResult> {
  const body = plan.body ? makeBody(plan.body) : undefined;
  const problems = new Map<string, number>();
  let ok = 0;
  const once = (agent: Agent) =>
    new Promise<void>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: plan.method, path: plan.path, headers: body ? { ...plan.headers, 'content-length': String(body.byteLength) } : plan.headers, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (plan.expectStatus.includes(res.statusCode ?? 0)) ok++;
          else problems.set(`status ${res.statusCode}`, (problems.get(`status ${res.statusCode}`) ?? 0) + 1);
          resolve();
        });
        res.on('error', (err) => {
          problems.set(err.message, (problems.get(err.message) ?? 0) + 1);
          resolve();
        });
      });
      req.setTimeout(120_000, () => req.destroy(new Error('no answer in 120 s')));
      req.on('error', (err) => {
        problems.set(err.message, (problems.get(err.message) ?? 0) + 1);
        resolve();
      });
      req.end(body);
    });
  for (let done = 0; done < n; ) {
    const size = chunk > 0 ? Math.min(chunk, n - done) : n - done;
    const agent = new Agent({ keepAlive: true, maxSockets: connections });
    let left = size;
    await Promise.all(
      Array.from({ length: Math.min(connections, size) }, async () => {
        while (left > 0) {
          left--;
          await once(agent);
        }
      }),
    );
    agent.destroy();
    done += size;
  }
  return { ok, problems: [...problems].map(([p, k]) => `${k} × ${p} (expected ${plan.expectStatus.join('|')})`) };
}

function callgrindControl(bin: string, pid: number, arg: string): void {
  // valgrind names its control pipe after the target's $USER and $HOST: the service has no USER
  // and HOST=127.0.0.1 (its listen address), so the controller must see the same.
  const r = spawnSync(bin, [arg, String(pid)], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1' }, timeout: 60_000 });
  if (r.status !== 0 || !/OK/.test(r.stdout) || /error/i.test(r.stderr)) throw new Error(`callgrind_control ${arg} ${pid} failed: ${r.stdout}${r.stderr}`.trim());
}

export async function runInstructions(opts: InstructionOptions): Promise<{ trials: InstructionTrial[]; startedAt: string; elapsedSeconds: number }> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const valgrind = requireBinary('valgrind', 'apt-get install -y valgrind');
  const control = requireBinary('callgrind_control', 'apt-get install -y valgrind');
  const annotate = requireBinary('callgrind_annotate', 'apt-get install -y valgrind');
  const started = Date.now();
  if (opts.keep) mkdirSync(opts.keep, { recursive: true });
  const be: BenchEnv = await startBenchEnv(opts, 'bench-instructions');
  const trials: InstructionTrial[] = [];
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const order = opts.variants.map((_, i) => opts.variants[(i + round) % opts.variants.length] as Variant);
      for (const variant of order) {
        const sink = be.env.sinks.get(variant)!;
        const prefix = [valgrind, '--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${join(be.dir.path, 'callgrind.%p')}`, '--dump-instr=no', '--compress-strings=no'];
        let svc;
        try {
          svc = await startService(be.env, variant, opts, `r${round}-${variant}`, sink, { prefix, startTimeoutMs: 180_000 });
        } catch (err) {
          for (const workload of opts.workloads) trials.push(failed(round, variant, workload, err));
          log(`round ${round + 1}/${opts.rounds} ${variant}: FAILED to start: ${(err as Error).message.split('\n')[0]}`);
          continue;
        }
        const pid = svc.proc.pid as number;
        try {
          for (const workload of opts.workloads) {
            const { plan } = workloadRun(workload, be.ctx, be.bodyFile);
            try {
              const warm = await drive(svc.port, plan, opts.warmup, opts.connections, opts.chunk);
              // The warm-up's spans are exported before counting starts, not inside the window.
              if (!(await spansSettled(svc.metricsPort, SETTLE_TIMEOUT_MS))) {
                warm.problems.push(`the warm-up's spans were not all exported within ${SETTLE_TIMEOUT_MS / 1000} s: the window may count their export`);
              }
              const before = readdirSync(be.dir.path).filter((f) => f.startsWith(`callgrind.${pid}.`)).length;
              const sink0 = sink.counts();
              callgrindControl(control, pid, '--instr=on');
              const counted = await drive(svc.port, plan, opts.requests, opts.connections, opts.chunk);
              await new Promise((r) => setTimeout(r, FLUSH_WAIT_MS));
              callgrindControl(control, pid, '--instr=off');
              callgrindControl(control, pid, '--dump');
              const file = join(be.dir.path, `callgrind.${pid}.${before + 1}`);
              const total = callgrindTotal(readFileSync(file, 'utf8'));
              if (opts.keep) copyFileSync(file, join(opts.keep, `r${round}-${variant}-${workload}.callgrind`));
              const ann = spawnSync(annotate, ['--inclusive=no', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
              const cat = categorize(ann.stdout);
              // The data check is about spans lost, not about the window: give the last batch time to arrive.
              const spansNow = () => sink.counts().serverSpans - sink0.serverSpans;
              for (const until = Date.now() + 10_000; (variant === 'full' || variant === 'stock') && spansNow() < opts.requests && Date.now() < until; ) {
                await new Promise((r) => setTimeout(r, 200));
              }
              const serverSpans = spansNow();
              const problems = [...new Set([...warm.problems, ...counted.problems])];
              if (counted.ok < opts.requests) problems.push(`${opts.requests - counted.ok} of ${opts.requests} counted requests failed`);
              if (variant === 'unsampled' && workload !== 'upload' && serverSpans > 0) problems.push(`${serverSpans} SERVER spans exported with head sampling ratio 0`);
              if ((variant === 'full' || variant === 'stock') && serverSpans < opts.requests) problems.push(`${serverSpans} SERVER spans exported for ${opts.requests} requests`);
              const t: InstructionTrial = {
                round,
                variant,
                workload,
                requests: opts.requests,
                perRequest: total / opts.requests,
                compilePerRequest: cat.compile / opts.requests,
                gcPerRequest: cat.gc / opts.requests,
                serverSpansPerRequest: serverSpans / opts.requests,
                problems,
              };
              trials.push(t);
              log(
                `round ${round + 1}/${opts.rounds} ${variant.padEnd(11)} ${workload.padEnd(8)} ${Math.round(t.perRequest).toLocaleString('en-US').padStart(11)} instructions/request` +
                  `  (compiler ${Math.round(t.compilePerRequest)}, GC ${Math.round(t.gcPerRequest)}, SERVER spans/request ${t.serverSpansPerRequest.toFixed(2)})${problems.length ? `  PROBLEMS: ${problems.join('; ')}` : ''}`,
              );
            } catch (err) {
              trials.push(failed(round, variant, workload, err));
              log(`round ${round + 1}/${opts.rounds} ${variant} ${workload}: FAILED: ${(err as Error).message}`);
            }
          }
        } finally {
          await svc.stop();
          // --perf-basic-prof: the JIT code's names, for reading the kept dumps (callgrind sees only addresses).
          const perfMap = `/tmp/perf-${pid}.map`;
          if (opts.keep && existsSync(perfMap)) renameSync(perfMap, join(opts.keep, `r${round}-${variant}.perf.map`));
        }
      }
    }
  } finally {
    await be.close();
  }
  return { trials, startedAt: new Date(started).toISOString(), elapsedSeconds: (Date.now() - started) / 1000 };
}

function failed(round: number, variant: Variant, workload: Workload, err: unknown): InstructionTrial {
  return { round, variant, workload, requests: 0, perRequest: 0, compilePerRequest: 0, gcPerRequest: 0, serverSpansPerRequest: 0, problems: [], failed: (err as Error).message ?? String(err) };
}

export interface InstructionRow {
  workload: Workload;
  variant: Variant;
  rounds: number;
  perRequest: number;
  min: number;
  max: number;
  /** Mean of the per-round differences to the baseline of the same round. */
  added?: number;
  addedMin?: number;
  addedMax?: number;
  compile: number;
  gc: number;
  serverSpansPerRequest: number;
  problems: string[];
}

export function summarizeInstructions(trials: readonly InstructionTrial[], variants: readonly Variant[], workloads: readonly Workload[]): InstructionRow[] {
  const rows: InstructionRow[] = [];
  const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  for (const w of workloads) {
    const base = trials.filter((t) => t.workload === w && t.variant === 'baseline' && !t.failed);
    for (const v of variants) {
      const ts = trials.filter((t) => t.workload === w && t.variant === v && !t.failed);
      const per = ts.map((t) => t.perRequest);
      const row: InstructionRow = {
        workload: w,
        variant: v,
        rounds: ts.length,
        perRequest: avg(per),
        min: Math.min(...per),
        max: Math.max(...per),
        compile: avg(ts.map((t) => t.compilePerRequest)),
        gc: avg(ts.map((t) => t.gcPerRequest)),
        serverSpansPerRequest: avg(ts.map((t) => t.serverSpansPerRequest)),
        problems: [...new Set(trials.filter((t) => t.workload === w && t.variant === v).flatMap((t) => (t.failed ? [`failed: ${t.failed.split('\n')[0]}`] : t.problems)))],
      };
      const diffs = ts.flatMap((t) => {
        const b = base.find((x) => x.round === t.round);
        return b ? [t.perRequest - b.perRequest] : [];
      });
      if (v !== 'baseline' && diffs.length > 0) {
        row.added = avg(diffs);
        row.addedMin = Math.min(...diffs);
        row.addedMax = Math.max(...diffs);
      }
      rows.push(row);
    }
  }
  return rows;
}

const k = (x: number) => (Number.isFinite(x) ? `${(x / 1000).toFixed(1)}k` : '—');
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${k(Math.abs(x))}`;

export function instructionTable(rows: readonly InstructionRow[]): string {
  const head = '| workload | variant | rounds | instructions/request (min–max) | added vs baseline (min–max) | overhead | in compilers | in GC | SERVER spans/request |';
  const lines = [head, '|---|---|---|---|---|---|---|---|---|'];
  const base = (w: Workload) => rows.find((r) => r.workload === w && r.variant === 'baseline');
  for (const r of rows) {
    const b = base(r.workload);
    const added = r.added === undefined ? '—' : `${signed(r.added)} (${signed(r.addedMin!)} to ${signed(r.addedMax!)})`;
    const pct = r.added === undefined || !b ? '—' : `${r.added >= 0 ? '+' : '−'}${((Math.abs(r.added) / b.perRequest) * 100).toFixed(1)} %`;
    lines.push(`| ${r.workload} | ${r.variant} | ${r.rounds} | ${k(r.perRequest)} (${k(r.min)}–${k(r.max)}) | ${added} | ${pct} | ${k(r.compile)} | ${k(r.gc)} | ${r.serverSpansPerRequest.toFixed(2)} |`);
  }
  return lines.join('\n');
}

export function instructionMarkdown(result: { trials: InstructionTrial[]; startedAt: string; elapsedSeconds: number }, opts: InstructionOptions, command: string): string {
  const rows = summarizeInstructions(result.trials, opts.variants, opts.workloads);
  const vg = spawnSync('valgrind', ['--version'], { encoding: 'utf8' }).stdout.trim();
  const problems = rows.filter((r) => r.problems.length > 0).map((r) => `- ${r.workload}/${r.variant}: ${r.problems.join('; ')}`);
  return [
    '# Instructions per request (callgrind)',
    '',
    `Generated by \`${command}\` on ${result.startedAt} (${result.elapsedSeconds.toFixed(0)} s). Everything in this file is generated; rerun the command rather than editing it. What the numbers say is discussed in docs/benchmarks.md.`,
    '',
    '## Machine and versions',
    '',
    `- CPU: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length} (service pinned to CPU ${opts.serverCpu}, the harness and components on CPU ${opts.loadCpu})`,
    `- Kernel: Linux ${release()}`,
    `- node: ${process.version}; ${vg}`,
    '',
    '## Method',
    '',
    `- ${opts.rounds} rounds; each round starts every variant (${opts.variants.join(', ')}) in turn, one at a time, as a fresh \`video-api\` process under \`valgrind --tool=callgrind --instr-atstart=no --smc-check=all-non-file\` (the same services, components and environment as \`npm run bench:overhead\`).`,
    `- Per workload: ${opts.warmup} warm-up requests with counting off, then a wait until the service has exported every span it started (its \`${SPANS_STARTED}\` = \`${SPANS_EXPORTED}\` + \`${SPANS_DROPPED}\`), so that no warm-up span is exported inside the window, then counting on (\`callgrind_control --instr=on\`) for ${opts.requests} requests and ${FLUSH_WAIT_MS} ms after them (the batch delay: their spans are exported inside the window), then a dump. Requests come from a keep-alive client with ${opts.connections} connections, new connections every ${opts.chunk || 'never'} requests; every answer is checked against its expected status.`,
    '- Instructions per request = instructions executed by every thread of the process in the window (callgrind `Ir`) / counted requests. "In compilers" is the part in V8\'s optimizing compilers (TurboFan, Maglev), i.e. JIT work the warm-up left; "in GC" the garbage collector\'s. Added = mean of the per-round differences to the baseline process of the same round.',
    '- Instructions are user-space work; system calls and the kernel are not counted, nor cache misses or stalls: they rank and explain costs and are nearly free of noise, the µs and % claims remain `npm run bench:overhead`\'s. Some of V8\'s work is timed by the clock (idle-time GC, installing background compilations) while the service runs ~50× slower under valgrind: run it on a quiet machine.',
    '',
    '## Results',
    '',
    instructionTable(rows),
    '',
    '## Problems seen',
    '',
    ...(problems.length ? problems : ['- none']),
    '',
  ].join('\n');
}

export const INSTRUCTIONS_USAGE = `usage: npm run bench:instructions -- [options]
  --variants a,b           of ${VARIANTS.join(', ')} (default baseline,unsampled,production,full; baseline is always run)
  --workloads a,b          of ${WORKLOADS.join(', ')} (default healthz)
  --rounds N               rounds of one process per variant (default 2)
  --warmup N               warm-up requests with counting off (default 100000)
  --requests N             counted requests (default 3000)
  --connections N          keep-alive connections (default 8)
  --chunk N                requests per set of connections (default 1000)
  --server-cpu N           the core the service is pinned to (default 1)
  --load-cpu N             the core of the harness and components (default 0)
  --node-flags "--a --b"   Node options for every service process (e.g. "--perf-basic-prof")
  --keep DIR               keep the callgrind dumps (and JIT code names) there
  --write FILE             write the report there (markdown)
  --json FILE              write the raw trials and rows as JSON
docs/load-tests.md explains the method; docs/benchmarks-instructions.md holds the published run.`;

const INSTRUCTIONS_CLI: CliSpec = {
  values: ['--variants', '--workloads', '--rounds', '--warmup', '--requests', '--connections', '--chunk', '--server-cpu', '--load-cpu', '--node-flags', '--keep', '--write', '--json'],
  flags: [],
  usage: INSTRUCTIONS_USAGE,
};

export function parseInstructionArgs(argv: readonly string[]): { opts: InstructionOptions; write?: string; json?: string } {
  const { val, list, nodeFlags } = cliOptions(argv, INSTRUCTIONS_CLI);
  const variants = list('--variants', VARIANTS, ['baseline', 'unsampled', 'production', 'full']);
  if (!variants.includes('baseline')) variants.unshift('baseline');
  const opts: InstructionOptions = {
    variants,
    workloads: list('--workloads', WORKLOADS, ['healthz']),
    rounds: Number(val('--rounds') ?? 2),
    // GET /healthz needs ~100k requests before the compilers go quiet (docs/benchmarks.md).
    warmup: Number(val('--warmup') ?? 100_000),
    requests: Number(val('--requests') ?? 3000),
    connections: Number(val('--connections') ?? 8),
    chunk: Number(val('--chunk') ?? 1000),
    serverCpu: Number(val('--server-cpu') ?? 1),
    loadCpu: Number(val('--load-cpu') ?? 0),
  };
  const flags = nodeFlags();
  if (flags !== undefined) opts.nodeFlags = flags;
  const keep = val('--keep');
  if (keep !== undefined) opts.keep = keep;
  for (const [name, n] of Object.entries({ rounds: opts.rounds, requests: opts.requests, connections: opts.connections })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  }
  for (const [name, n] of Object.entries({ warmup: opts.warmup, chunk: opts.chunk })) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number (0 or more)`);
  }
  const write = val('--write');
  const json = val('--json');
  return { opts, ...(write ? { write } : {}), ...(json ? { json } : {}) };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  exitWithUsageIfAsked(argv, INSTRUCTIONS_USAGE);
  const { opts, write, json } = parseInstructionArgs(argv);
  console.log(`bench:instructions: ${opts.rounds} rounds × ${opts.variants.length} variants × ${opts.workloads.length} workloads, ${opts.warmup} warm-up + ${opts.requests} counted requests each`);
  const result = await runInstructions(opts);
  const rows = summarizeInstructions(result.trials, opts.variants, opts.workloads);
  console.log(`\n${instructionTable(rows)}\n`);
  const command = `npm run bench:instructions${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  if (json) writeFileSync(json, JSON.stringify({ result, rows }, null, 2));
  if (write) {
    writeFileSync(write, instructionMarkdown(result, opts, command));
    console.log(`wrote ${write}`);
  }
  console.log(`done in ${result.elapsedSeconds.toFixed(0)} s`);
  if (rows.some((r) => r.problems.length > 0)) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`${sig}: stopping the services and components this run started`);
      void (async () => {
        for (const fn of [...cleanups].reverse()) await fn().catch(() => undefined);
      })().finally(() => process.exit(130));
    });
  }
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
