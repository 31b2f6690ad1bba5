// Garbage-collector pressure of each video-api variant under load: how long young-generation
// scavenges take and how fast the old generation grows between full collections. It is the
// check for the failure found in the overhead work: per-request telemetry objects that V8
// pretenures into old space keep that request's fresh strings (trace ids) alive through every
// scavenge, so scavenges get several times longer and the old generation grows steadily.
//
//   node bench/gc-trace.ts [--seconds 16] [--variants baseline,production,full] [--node-flag --no-allocation-site-pretenuring]
//
// Each variant runs as a fresh process pinned to CPU 1 with --trace-gc, GET /healthz is driven by
// wrk on CPU 0, and the trace's scavenge lines are summarised over the second half of the run
// (after start-up and JIT warm-up): scavenges per second, mean pause, and the old generation's
// growth (heap size after each scavenge, first vs last). Needs wrk, taskset and redis-server.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SERVICE_API } from '../src/signals/index.ts';
import { startRedis } from '../test/harness/redis.ts';
import { freePort, requireBinary, stopProcess, waitForPort } from '../test/harness/process.ts';
import { VARIANTS, variantCommand, type Variant } from './overhead.ts';
import { startOtlpSink } from './otlp-sink.ts';
import { parseProcStatCpuSeconds } from './stats.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

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

function arg(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const seconds = Number(arg(argv, '--seconds') ?? 16);
  if (!Number.isInteger(seconds) || seconds < 4) throw new Error('--seconds must be an integer >= 4');
  const variants = (arg(argv, '--variants') ?? 'baseline,production,full').split(',') as Variant[];
  for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`--variants: unknown "${v}" (known: ${VARIANTS.join(', ')})`);
  const nodeFlags = argv.flatMap((a, i) => (a === '--node-flag' && argv[i + 1] ? [argv[i + 1]!] : []));
  const wrk = requireBinary('wrk', 'apt-get install -y wrk');
  const taskset = requireBinary('taskset', 'apt-get install -y util-linux');
  const redis = await startRedis();
  const sink = await startOtlpSink();
  console.log(`gc-trace: GET /healthz, ${seconds} s per variant${nodeFlags.length ? `, node ${nodeFlags.join(' ')}` : ''}; scavenges over the second half`);
  console.log('| variant | req/s | CPU µs/req | scavenges/s | mean scavenge pause ms | heap after scavenge MB (first → last) | old-generation growth MB/s |');
  console.log('|---|---|---|---|---|---|---|');
  try {
    for (const variant of variants) {
      const port = await freePort();
      const cmd = variantCommand(variant);
      const spawnedAt = Date.now();
      const proc = spawn(taskset, ['-c', '1', process.execPath, '--trace-gc', ...nodeFlags, ...cmd.args], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH ?? '',
          HOST: '127.0.0.1',
          PORT: String(port),
          METRICS_PORT: String(await freePort()),
          S3_ENDPOINT: 'http://127.0.0.1:9',
          S3_BUCKET: 'gc-trace',
          S3_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'gc-trace',
          AWS_SECRET_ACCESS_KEY: 'gc-trace',
          REDIS_URL: redis.url,
          SESSION_SECRET: 'gc-trace-session-secret-0123456789abcdef',
          OTEL_SERVICE_NAME: SERVICE_API,
          OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
          OTEL_METRICS_EXPORTER: 'none',
          LOG_LEVEL: 'warn',
          ...cmd.env,
        },
      });
      // V8 prints the trace through C stdio, block-buffered on a pipe: it is complete only once
      // the process has exited, so it is parsed after the stop.
      let trace = '';
      proc.stdout.on('data', (d: Buffer) => (trace += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (trace += d.toString()));
      let row: { requests: number; cpuSeconds: number; fromMs: number } | undefined;
      try {
        await waitForPort(port, 30_000, proc);
        const half = Math.floor(seconds / 2);
        const url = `http://127.0.0.1:${port}/healthz`;
        spawnSync(taskset, ['-c', '0', wrk, '-t1', '-c8', `-d${half}s`, url], { encoding: 'utf8' });
        // Trace timestamps count from the start of the process (spawned just after spawnedAt).
        const fromMs = Date.now() - spawnedAt;
        const cpu0 = parseProcStatCpuSeconds(readFileSync(`/proc/${proc.pid}/stat`, 'utf8'));
        const out = spawnSync(taskset, ['-c', '0', wrk, '-t1', '-c8', `-d${seconds - half}s`, url], { encoding: 'utf8' }).stdout;
        const cpu1 = parseProcStatCpuSeconds(readFileSync(`/proc/${proc.pid}/stat`, 'utf8'));
        row = { requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN), cpuSeconds: cpu1 - cpu0, fromMs };
      } finally {
        await stopProcess(proc);
      }
      const s = summarizeScavenges(trace, row.fromMs);
      const cells = s
        ? [s.perSecond.toFixed(1), s.meanPauseMs.toFixed(2), `${s.heapAfterFirstMb.toFixed(1)} → ${s.heapAfterLastMb.toFixed(1)}`, s.growthMbPerSecond.toFixed(2)]
        : ['n/a', 'n/a', 'n/a', 'n/a'];
      const half = Math.floor(seconds / 2);
      console.log(`| ${variant} | ${(row.requests / (seconds - half)).toFixed(0)} | ${((row.cpuSeconds * 1e6) / row.requests).toFixed(1)} | ${cells.join(' | ')} |`);
    }
  } finally {
    await sink.close();
    await redis.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
