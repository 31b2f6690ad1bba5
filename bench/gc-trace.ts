// Garbage-collector pressure of each video-api variant under load: how long young-generation
// scavenges take, how fast the old generation grows, and how many full (mark-compact)
// collections the load causes. It is the check for two failures found in the overhead work:
// per-request telemetry objects that V8 pretenures into old space keep that request's fresh
// strings (trace ids) alive through every scavenge (GET /healthz), and a 5 MiB part buffer per
// upload that made V8 run a mark-compact every ~12 small uploads (external memory).
//
//   node bench/gc-trace.ts [--workload healthz|stream|redirect|upload] [--seconds 16]
//     [--variants baseline,production,full] [--node-flag --no-allocation-site-pretenuring] [--alloc]
//
// The bench's components (s3rver behind the delay proxy, Redis, an OTLP sink per variant; see
// overhead.ts). Each variant runs as a fresh process pinned to CPU 1 with --trace-gc, wrk drives
// the workload on CPU 0 with 8 connections, and the trace is summarised over the second half of
// the run (after start-up and JIT warm-up): scavenges per second, mean pause, the old
// generation's growth (heap size after each scavenge, first vs last), and mark-compacts with
// their main-thread time (pause plus incremental steps) per 1000 requests. Needs wrk, taskset,
// redis-server.
//
// --alloc also samples what the counted half allocates (V8's sampling heap profiler, freed objects
// included; bench/alloc-sample.ts) and prints bytes per request in total and, per variant after
// the first, the allocation sites that differ most from the first variant's (list a variant twice,
// e.g. baseline,full,baseline, to see the noise between two processes of one variant). The
// profiler costs CPU and changes the heap (the old generation grows several MB/s while it runs),
// so the table's other columns are not comparable with a run without --alloc.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cliOptions, exitWithUsageIfAsked } from './cli.ts';
import { ROOT, runWrk, startBenchEnv, startService, VARIANTS, WORKLOADS, workloadRun, type Variant, type Workload } from './overhead.ts';
import { parseProcStatCpuSeconds } from './stats.ts';

export interface ScavengeSummary {
  scavenges: number;
  perSecond: number;
  meanPauseMs: number;
  /** Heap size after scavenge (MB): first and last in the window, and the growth rate. */
  heapAfterFirstMb: number;
  heapAfterLastMb: number;
  growthMbPerSecond: number;
}

/** Summarises `--trace-gc` output over scavenges whose timestamp is at or after `fromMs`. */
export function summarizeScavenges(trace: string, fromMs: number): ScavengeSummary | undefined {
  // [pid:0x...]    18233 ms: Scavenge 135.4 (213.2) -> 84.6 (213.5) MB, pooled: 0 MB, 4.43 / 0.00 ms ...
  const re = /\]\s+(\d+) ms: Scavenge [\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB,(?: pooled: [\d.]+ MB,)? ([\d.]+) \/ [\d.]+ ms/g;
  const rows = [...trace.matchAll(re)].map((m) => ({ t: Number(m[1]), after: Number(m[2]), pause: Number(m[3]) })).filter((r) => r.t >= fromMs);
  if (rows.length < 2) return undefined;
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  const seconds = (last.t - first.t) / 1000;
  return {
    scavenges: rows.length,
    perSecond: rows.length / seconds,
    meanPauseMs: rows.reduce((a, r) => a + r.pause, 0) / rows.length,
    heapAfterFirstMb: first.after,
    heapAfterLastMb: last.after,
    growthMbPerSecond: (last.after - first.after) / seconds,
  };
}

export interface MarkCompactSummary {
  count: number;
  /** Main-thread milliseconds: the final pause plus the incremental marking steps before it. */
  mainThreadMs: number;
}

/** Sums `--trace-gc` Mark-Compact lines whose timestamp is at or after `fromMs`. */
export function summarizeMarkCompacts(trace: string, fromMs: number): MarkCompactSummary {
  // [pid:0x...]   245 ms: Mark-Compact 128.7 (193.0) -> 22.9 (152.9) MB, pooled: 0 MB, 15.93 / 0.00 ms  (+ 8.8 ms in 12 steps since start of marking, ...
  const re = /\]\s+(\d+) ms: Mark-Compact [^\n]*?MB, ([\d.]+) \/ [\d.]+ ms(?:\s+\(\+ ([\d.]+) ms in \d+ steps)?/g;
  let count = 0;
  let mainThreadMs = 0;
  for (const m of trace.matchAll(re)) {
    if (Number(m[1]) < fromMs) continue;
    count++;
    mainThreadMs += Number(m[2]) + Number(m[3] ?? 0);
  }
  return { count, mainThreadMs };
}

interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based, as the inspector protocol gives it. */
  lineNumber: number;
}
export interface HeapProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: HeapProfileNode[];
}
/** The inspector's SamplingHeapProfile (the fields read here). */
export interface HeapProfile {
  head: HeapProfileNode;
  samples: { size: number; nodeId: number }[];
}

/** Bytes between heap samples: small enough for per-request differences of a few hundred bytes. */
const ALLOC_SAMPLING_INTERVAL_BYTES = 512;

function frameName(cf: CallFrame): string {
  const name = cf.functionName || '(anonymous)';
  const path = cf.url.startsWith('file://') ? fileURLToPath(cf.url) : cf.url;
  const nm = path.lastIndexOf('/node_modules/');
  const short = nm >= 0 ? path.slice(nm + '/node_modules/'.length) : path.startsWith(ROOT) ? relative(ROOT, path) : path;
  return `${name} ${short}:${cf.lineNumber + 1}`;
}

/**
 * Sampled bytes per request by allocation site: the JavaScript function that allocated (name and
 * file:line); an allocation inside a V8 builtin (a `new Map()`, a `WeakSet`) is named with the
 * function that called it.
 */
export function allocationSites(profile: HeapProfile, requests: number): { perRequest: number; sites: Map<string, number> } {
  if (!(requests > 0)) throw new Error(`allocation profile: no requests counted (${requests})`);
  const siteOf = new Map<number, string>();
  const stack: [HeapProfileNode, string | undefined][] = [[profile.head, undefined]];
  while (stack.length > 0) {
    const [node, parentSite] = stack.pop()!;
    const site = node.callFrame.url === '' && parentSite !== undefined ? `${node.callFrame.functionName || '(native)'} in ${parentSite}` : frameName(node.callFrame);
    siteOf.set(node.id, site);
    // A builtin's own callees (rare) keep the JavaScript caller's name.
    const named = node.callFrame.url === '' && parentSite !== undefined ? parentSite : site;
    for (const c of node.children ?? []) stack.push([c, named]);
  }
  const sites = new Map<string, number>();
  let total = 0;
  for (const s of profile.samples) {
    const site = siteOf.get(s.nodeId) ?? '(unknown)';
    sites.set(site, (sites.get(site) ?? 0) + s.size / requests);
    total += s.size;
  }
  return { perRequest: total / requests, sites };
}

/** The `limit` sites whose bytes per request grow most from `base` to `other`. */
export function allocationDiff(base: Map<string, number>, other: Map<string, number>, limit: number): { site: string; base: number; other: number }[] {
  const keys = new Set([...base.keys(), ...other.keys()]);
  return [...keys]
    .map((site) => ({ site, base: base.get(site) ?? 0, other: other.get(site) ?? 0 }))
    .sort((a, b) => b.other - b.base - (a.other - a.base))
    .slice(0, limit);
}

async function waitForFile(path: string, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > until) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
    await sleep(200);
  }
  // alloc-sample.ts renames the file into place once it is written.
  return readFileSync(path, 'utf8');
}

const GC_TRACE_USAGE = `usage: npm run bench:gc -- [options]
  --workload W                 one of ${WORKLOADS.join(', ')} (default healthz)
  --seconds S                  seconds per variant, the second half counted (default 16)
  --variants a,b               of ${VARIANTS.join(', ')} (default baseline,production,full)
  --node-flag --flag           a Node option for every service process (repeat it for more)
  --alloc                      also sample what the counted half allocates, per request`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  exitWithUsageIfAsked(argv, GC_TRACE_USAGE);
  const cli = cliOptions(argv, { values: ['--workload', '--seconds', '--variants', '--node-flag'], flags: ['--alloc'], usage: GC_TRACE_USAGE });
  const seconds = Number(cli.val('--seconds') ?? 16);
  if (!Number.isInteger(seconds) || seconds < 4) throw new Error('--seconds must be an integer >= 4');
  const variants = (cli.val('--variants') ?? 'baseline,production,full').split(',') as Variant[];
  for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`--variants: unknown "${v}" (known: ${VARIANTS.join(', ')})`);
  const workload = (cli.val('--workload') ?? 'healthz') as Workload;
  if (!WORKLOADS.includes(workload)) throw new Error(`--workload: unknown "${workload}" (known: ${WORKLOADS.join(', ')})`);
  const nodeFlags = argv.flatMap((a, i) => (a === '--node-flag' && argv[i + 1] ? [argv[i + 1]!] : []));
  const alloc = argv.includes('--alloc');
  // The first half warms up; the second is counted.
  const half = Math.floor(seconds / 2);
  const opts = { variants, pinHarness: true, loadCpu: 0, serverCpu: 1, connections: 8, nodeFlags: ['--trace-gc', ...nodeFlags] };
  const be = await startBenchEnv(opts, 'gc-trace');
  const allocDir = join(be.env.logDir, 'alloc');
  if (alloc) {
    mkdirSync(allocDir, { recursive: true });
    opts.nodeFlags.push(`--import=${pathToFileURL(join(ROOT, 'bench/alloc-sample.ts')).href}?dir=${encodeURIComponent(allocDir)}&interval=${ALLOC_SAMPLING_INTERVAL_BYTES}`);
  }
  const allocs: { variant: Variant; perRequest: number; sites: Map<string, number> }[] = [];
  const run = workloadRun(workload, be.ctx, be.bodyFile);
  console.log(`gc-trace: ${run.plan.method} ${run.route} (${workload}), ${seconds} s per variant${nodeFlags.length ? `, node ${nodeFlags.join(' ')}` : ''}; the second half counted`);
  console.log('| variant | req/s | CPU µs/req | scavenges/s | mean scavenge pause ms | heap after scavenge MB (first → last) | old-generation growth MB/s | mark-compacts per 1000 req | mark-compact main-thread ms per 1000 req |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  try {
    for (const variant of variants) {
      const spawnedAt = Date.now();
      const svc = await startService(be.env, variant, opts, `gc-${variant}`, be.env.sinks.get(variant)!);
      let row: { requests: number; cpuSeconds: number; fromMs: number };
      try {
        const url = `http://127.0.0.1:${svc.port}${run.plan.path}`;
        await runWrk(be.env, opts, url, run, half);
        // Trace timestamps count from the start of the process (spawned just after spawnedAt).
        const fromMs = Date.now() - spawnedAt;
        const pid = svc.proc.pid!;
        if (alloc) {
          process.kill(pid, 'SIGUSR2');
          await sleep(100);
        }
        const cpu0 = parseProcStatCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
        const w = await runWrk(be.env, opts, url, run, seconds - half);
        const cpu1 = parseProcStatCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
        row = { requests: w.requests, cpuSeconds: cpu1 - cpu0, fromMs };
        if (alloc) {
          process.kill(pid, 'SIGUSR2');
          const got = JSON.parse(await waitForFile(join(allocDir, `alloc-${pid}.json`), 60_000)) as { requests?: number; profile?: HeapProfile; error?: string };
          if (!got.profile) throw new Error(`allocation profile of ${variant}: ${got.error ?? 'missing'}`);
          allocs.push({ variant, ...allocationSites(got.profile, got.requests ?? 0) });
        }
      } finally {
        await svc.stop();
      }
      // V8 prints the trace through C stdio, block-buffered: the log is complete once the process has exited.
      const trace = readFileSync(join(be.env.logDir, `gc-${variant}.log`), 'utf8');
      const s = summarizeScavenges(trace, row.fromMs);
      const mc = summarizeMarkCompacts(trace, row.fromMs);
      const cells = s
        ? [s.perSecond.toFixed(1), s.meanPauseMs.toFixed(2), `${s.heapAfterFirstMb.toFixed(1)} → ${s.heapAfterLastMb.toFixed(1)}`, s.growthMbPerSecond.toFixed(2)]
        : ['n/a', 'n/a', 'n/a', 'n/a'];
      const per1000 = (n: number) => ((n * 1000) / row.requests).toFixed(2);
      console.log(`| ${variant} | ${(row.requests / (seconds - half)).toFixed(0)} | ${((row.cpuSeconds * 1e6) / row.requests).toFixed(1)} | ${cells.join(' | ')} | ${per1000(mc.count)} | ${per1000(mc.mainThreadMs)} |`);
    }
  } finally {
    await be.close();
  }
  if (allocs.length > 0) {
    console.log(`\nAllocated bytes per request in the counted half (sampled every ${ALLOC_SAMPLING_INTERVAL_BYTES} bytes, freed objects included):`);
    for (const a of allocs) console.log(`- ${a.variant}: ${a.perRequest.toFixed(0)}`);
    const [first, ...rest] = allocs;
    for (const a of rest) {
      console.log(`\n| allocation site | ${first!.variant} B/req | ${a.variant} B/req | difference |`);
      console.log('|---|---|---|---|');
      for (const d of allocationDiff(first!.sites, a.sites, 15)) {
        console.log(`| ${d.site} | ${d.base.toFixed(0)} | ${d.other.toFixed(0)} | ${(d.other - d.base >= 0 ? '+' : '') + (d.other - d.base).toFixed(0)} |`);
      }
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
