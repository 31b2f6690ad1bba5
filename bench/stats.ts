// Statistics of the overhead benchmark: paired ratios between interleaved trials with a 95 %
// confidence interval (Student t on the per-pair log ratios), percentiles, and wrk's output parser.

/** Two-sided Student t critical values at 95 % by degrees of freedom (1..30); larger df → 1.96. */
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101,
  2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
export function tCritical95(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new Error(`degrees of freedom must be a positive integer, got ${df}`);
  return df <= T95.length ? (T95[df - 1] as number) : df <= 60 ? 2.0 : 1.96;
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('mean of nothing');
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n - 1). */
export function stddev(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/** Percentile by linear interpolation between closest ranks (q in [0, 1]). */
export function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) throw new Error('percentile of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = s[lo] as number;
  const b = s[hi] as number;
  return a + (b - a) * (pos - lo);
}

export interface PairedRatio {
  /** Geometric mean of treatment/control over the pairs (1.05 = 5 % more). */
  ratio: number;
  /** 95 % confidence interval of the ratio (from the t interval of the log ratios). */
  low: number;
  high: number;
  pairs: number;
}

/**
 * Paired ratio of treatment to control: trial i of each ran back to back (interleaved), so
 * machine drift cancels within a pair. Works on log ratios (ratios are multiplicative).
 */
export function pairedRatio(control: readonly number[], treatment: readonly number[]): PairedRatio {
  if (control.length !== treatment.length) throw new Error(`unpaired samples: ${control.length} control vs ${treatment.length} treatment`);
  if (control.length === 0) throw new Error('no pairs');
  const logs = control.map((c, i) => {
    const t = treatment[i] as number;
    if (!(c > 0) || !(t > 0)) throw new Error(`pair ${i} has a non-positive value (${c}, ${t})`);
    return Math.log(t / c);
  });
  const m = mean(logs);
  const half = logs.length > 1 ? (tCritical95(logs.length - 1) * stddev(logs)) / Math.sqrt(logs.length) : Infinity;
  return { ratio: Math.exp(m), low: Math.exp(m - half), high: Math.exp(m + half), pairs: logs.length };
}

export interface PairedDifference {
  /** Mean of treatment - control over the pairs. */
  diff: number;
  low: number;
  high: number;
  pairs: number;
}

/** Paired difference (e.g. added CPU µs per request) with its 95 % t interval. */
export function pairedDifference(control: readonly number[], treatment: readonly number[]): PairedDifference {
  if (control.length !== treatment.length) throw new Error(`unpaired samples: ${control.length} control vs ${treatment.length} treatment`);
  if (control.length === 0) throw new Error('no pairs');
  const d = control.map((c, i) => (treatment[i] as number) - c);
  const m = mean(d);
  const half = d.length > 1 ? (tCritical95(d.length - 1) * stddev(d)) / Math.sqrt(d.length) : Infinity;
  return { diff: m, low: m - half, high: m + half, pairs: d.length };
}

/** A paired difference as printed in the tables: `+12.3 [4.5, 20.1]`; `—` when there is none. */
export function formatDifference(d?: { diff: number; low: number; high: number }): string {
  return d ? `${d.diff >= 0 ? '+' : ''}${d.diff.toFixed(1)} [${d.low.toFixed(1)}, ${d.high.toFixed(1)}]` : '—';
}

/**
 * A claim "overhead < budget" holds only when the whole interval is under the budget, fails when
 * the whole interval is at or above it, and is inconclusive when the interval straddles it.
 */
export function verdict(low: number, high: number, budget: number): 'holds' | 'fails' | 'inconclusive' {
  if (high < budget) return 'holds';
  if (low >= budget) return 'fails';
  return 'inconclusive';
}

export interface WrkResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  bytes: number;
  /** Responses with status >= 400 (wrk's "Non-2xx or 3xx"). */
  statusErrors: number;
  socketErrors: number;
  /** Latency percentiles in seconds. */
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Parses the `WRK_JSON {...}` line bench/wrk-report.lua prints when wrk finishes. */
export function parseWrk(out: string): WrkResult {
  const m = /^WRK_JSON (\{.*\})$/m.exec(out);
  if (!m) throw new Error(`wrk printed no WRK_JSON line (is bench/wrk-report.lua loaded?):\n${out}`);
  const j = JSON.parse(m[1] as string) as Record<string, number>;
  const num = (k: string): number => {
    const v = j[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`wrk result has no numeric ${k}: ${m[1]}`);
    return v;
  };
  const durationSeconds = num('duration_us') / 1e6;
  return {
    requests: num('requests'),
    durationSeconds,
    requestsPerSecond: durationSeconds > 0 ? num('requests') / durationSeconds : 0,
    bytes: num('bytes'),
    statusErrors: num('status_errors'),
    socketErrors: num('socket_errors'),
    p50: num('p50_us') / 1e6,
    p95: num('p95_us') / 1e6,
    p99: num('p99_us') / 1e6,
    max: num('max_us') / 1e6,
  };
}

/**
 * Several wrk runs against one process (the slices of a measured phase) as one result: counts
 * and durations add up; latency percentiles are the request-weighted means of the runs'
 * percentiles (wrk reports no histogram to merge), max is the largest.
 */
export function mergeWrk(runs: readonly WrkResult[]): WrkResult {
  const requests = runs.reduce((a, r) => a + r.requests, 0);
  const durationSeconds = runs.reduce((a, r) => a + r.durationSeconds, 0);
  const weighted = (pick: (r: WrkResult) => number): number => (requests > 0 ? runs.reduce((a, r) => a + pick(r) * r.requests, 0) / requests : 0);
  return {
    requests,
    durationSeconds,
    requestsPerSecond: durationSeconds > 0 ? requests / durationSeconds : 0,
    bytes: runs.reduce((a, r) => a + r.bytes, 0),
    statusErrors: runs.reduce((a, r) => a + r.statusErrors, 0),
    socketErrors: runs.reduce((a, r) => a + r.socketErrors, 0),
    p50: weighted((r) => r.p50),
    p95: weighted((r) => r.p95),
    p99: weighted((r) => r.p99),
    max: runs.reduce((a, r) => Math.max(a, r.max), 0),
  };
}

/**
 * User and kernel CPU of a process in seconds (utime, stime), from /proc/<pid>/stat (all its
 * threads). Kernel time includes the softirq work done in the process's own syscalls, e.g. the
 * loopback delivery of its writes to the reader's socket.
 */
export function parseProcStatCpuTimes(stat: string, ticksPerSecond = 100): { user: number; system: number } {
  // Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unparseable /proc stat: ${stat}`);
  return { user: utime / ticksPerSecond, system: stime / ticksPerSecond };
}

/** utime + stime of a process in seconds, from /proc/<pid>/stat (all its threads). */
export function parseProcStatCpuSeconds(stat: string, ticksPerSecond = 100): number {
  const t = parseProcStatCpuTimes(stat, ticksPerSecond);
  return t.user + t.system;
}

/**
 * Steal and total ticks of one CPU (`cpuN`) or all (`cpu`) from /proc/stat: steal is time the
 * hypervisor ran something else while this virtual CPU had work.
 */
export function parseProcStatSteal(procStat: string, cpu: string): { steal: number; total: number } {
  const line = procStat.split('\n').find((l) => l.startsWith(`${cpu} `));
  if (!line) throw new Error(`/proc/stat has no "${cpu}" line`);
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal [guest guest_nice: already in user and nice]
  if (f.length < 8 || f.slice(0, 8).some((n) => !Number.isFinite(n))) throw new Error(`unparseable /proc/stat line: ${line}`);
  return { steal: f[7]!, total: f.slice(0, 8).reduce((a, b) => a + b, 0) };
}

/** Sums the samples named `sample` in Prometheus/OpenMetrics text whose labels match all of `labels` (undefined when there are none). */
export function sampleSum(text: string, sample: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  const re = new RegExp(`^${sample}(?:\\{([^}]*)\\})?\\s+([0-9.eE+-]+)`, 'gm');
  for (const m of text.matchAll(re)) {
    const lbl = m[1] ?? '';
    const ok = Object.entries(labels).every(([k, v]) => lbl.includes(`${k}="${v}"`));
    if (ok) total = (total ?? 0) + Number(m[2]);
  }
  return total;
}

/** Sums the `_count` samples of a histogram in Prometheus/OpenMetrics text whose labels match all of `labels`. */
export function histogramCount(text: string, metric: string, labels: Record<string, string> = {}): number | undefined {
  return sampleSum(text, `${metric}_count`, labels);
}
