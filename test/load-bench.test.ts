// The overhead benchmark's machinery (bench/): its statistics, its parsers, the OTLP sink that
// counts spans for the data check (fed by the real OTLP protobuf exporter), and the S3 delay proxy.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { SpanKind } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, describe, expect, it } from 'vitest';
import { startDelayProxy } from '../bench/delay-proxy.ts';
import {
  calibrationCheck,
  claims,
  cleanups,
  markdown,
  mergeReport,
  OVERHEAD_USAGE,
  parseArgs,
  roundOrder,
  runBench,
  sampledSpanCheck,
  startBusyLoop,
  startService,
  stockComparisons,
  stockSection,
  summarize,
  table,
  warmupOptions,
  type BenchResult,
  type Env,
  type Trial,
  type Variant,
  type Workload,
} from '../bench/overhead.ts';
import { startOtlpSink } from '../bench/otlp-sink.ts';
import {
  histogramCount,
  mean,
  mergeWrk,
  pairedDifference,
  pairedRatio,
  parseProcStatCpuSeconds,
  parseProcStatCpuTimes,
  parseProcStatSteal,
  parseWrk,
  percentile,
  sampleSum,
  stddev,
  tCritical95,
  verdict,
} from '../bench/stats.ts';
import { requireBinary, tempDir, waitFor } from './harness/process.ts';

describe('bench statistics', () => {
  it('computes mean, sample standard deviation and interpolated percentiles', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(stddev([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(2.138, 3);
    expect(percentile([10, 20, 30, 40, 50], 0.5)).toBe(30);
    expect(percentile([10, 20, 30, 40], 0.95)).toBeCloseTo(38.5, 10);
    expect(() => mean([])).toThrow();
  });

  it('uses Student t critical values for small samples and 1.96 for large ones', () => {
    expect(tCritical95(1)).toBe(12.706);
    expect(tCritical95(4)).toBe(2.776);
    expect(tCritical95(1000)).toBe(1.96);
    expect(() => tCritical95(0)).toThrow();
  });

  it('pairs trials: a constant 10 % slowdown gives ratio 1.1 with a zero-width interval, whatever the drift between pairs', () => {
    const control = [100, 200, 50, 400];
    const r = pairedRatio(control, control.map((c) => c * 1.1));
    expect(r.ratio).toBeCloseTo(1.1, 10);
    expect(r.low).toBeCloseTo(1.1, 10);
    expect(r.high).toBeCloseTo(1.1, 10);
    expect(r.pairs).toBe(4);
  });

  it('gives the paired ratio a 95 % interval from the t distribution of the log ratios', () => {
    const control = [100, 100, 100];
    const treatment = [100 * Math.exp(0.01), 100 * Math.exp(0.02), 100 * Math.exp(0.03)];
    const r = pairedRatio(control, treatment);
    // logs 0.01, 0.02, 0.03: mean 0.02, sd 0.01, t(2) = 4.303, half width 4.303 * 0.01 / sqrt(3).
    const half = (4.303 * 0.01) / Math.sqrt(3);
    expect(r.ratio).toBeCloseTo(Math.exp(0.02), 10);
    expect(r.low).toBeCloseTo(Math.exp(0.02 - half), 10);
    expect(r.high).toBeCloseTo(Math.exp(0.02 + half), 10);
  });

  it('gives the paired difference (added µs per request) its t interval', () => {
    const d = pairedDifference([10, 20, 30], [12, 23, 34]);
    expect(d.diff).toBeCloseTo(3, 10);
    const half = (4.303 * 1) / Math.sqrt(3);
    expect(d.low).toBeCloseTo(3 - half, 10);
    expect(d.high).toBeCloseTo(3 + half, 10);
  });

  it('refuses unpaired or non-positive samples instead of inventing a ratio', () => {
    expect(() => pairedRatio([1, 2], [1])).toThrow(/unpaired/);
    expect(() => pairedRatio([], [])).toThrow(/no pairs/);
    expect(() => pairedRatio([0], [1])).toThrow(/non-positive/);
  });

  it('judges a claim on its interval: holds below the budget, fails above it, inconclusive across it', () => {
    expect(verdict(0.001, 0.009, 0.01)).toBe('holds');
    expect(verdict(0.011, 0.02, 0.01)).toBe('fails');
    expect(verdict(0.005, 0.015, 0.01)).toBe('inconclusive');
  });
});

describe('bench parsers', () => {
  it('reads the WRK_JSON line of bench/wrk-report.lua', () => {
    const out = 'Running 2s test @ http://127.0.0.1:1/healthz\nWRK_JSON {"requests":5000,"duration_us":2000000,"bytes":123,"status_errors":2,"socket_errors":1,"p50_us":800,"p95_us":1500,"p99_us":3000,"max_us":9000}\n';
    const r = parseWrk(out);
    expect(r).toMatchObject({ requests: 5000, durationSeconds: 2, requestsPerSecond: 2500, statusErrors: 2, socketErrors: 1, p50: 0.0008, p95: 0.0015, p99: 0.003 });
    expect(() => parseWrk('no json here')).toThrow(/WRK_JSON/);
  });

  it('reads utime + stime from /proc/<pid>/stat even when the command name has spaces and parentheses', () => {
    const stat = '1234 (node (x) y) S 1 1234 1234 0 -1 4194560 5000 0 0 0 250 75 0 0 20 0 11 0 100 0 0';
    expect(parseProcStatCpuSeconds(stat)).toBeCloseTo(3.25, 10);
    expect(parseProcStatCpuTimes(stat)).toEqual({ user: 2.5, system: 0.75 });
    expect(() => parseProcStatCpuTimes('1234 (node) S 1')).toThrow(/unparseable \/proc stat/);
  });

  it('reads one CPU\'s steal and total ticks from /proc/stat, and refuses a missing or malformed line', () => {
    const stat = ['cpu  3977312 0 985806 5097519 21359 0 285087 36870 0 0', 'cpu0 1164819 0 551219 3305335 9094 0 99564 24082 0 0', 'cpu1 2812493 0 434586 1792183 12265 0 185523 12788 0 0', 'intr 1 2 3'].join('\n');
    expect(parseProcStatSteal(stat, 'cpu1')).toEqual({ steal: 12788, total: 2812493 + 434586 + 1792183 + 12265 + 185523 + 12788 });
    expect(parseProcStatSteal(stat, 'cpu').steal).toBe(36870);
    expect(() => parseProcStatSteal(stat, 'cpu7')).toThrow('no "cpu7" line');
    expect(() => parseProcStatSteal('cpu1 1 2 3', 'cpu1')).toThrow('unparseable');
  });

  it('sums a histogram _count over the series whose labels match', () => {
    const text = [
      '# TYPE http_server_request_duration_seconds histogram',
      'http_server_request_duration_seconds_bucket{http_route="/healthz",le="0.005"} 3',
      'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/healthz",http_response_status_code="200"} 7',
      'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/healthz",http_response_status_code="503"} 2',
      'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/readyz",http_response_status_code="200"} 100',
    ].join('\n');
    expect(histogramCount(text, 'http_server_request_duration_seconds', { http_route: '/healthz' })).toBe(9);
    expect(histogramCount(text, 'http_server_request_duration_seconds', { http_route: '/healthz', http_response_status_code: '200' })).toBe(7);
    expect(histogramCount(text, 'http_server_request_duration_seconds', { http_route: '/nope' })).toBeUndefined();
    expect(histogramCount('', 'http_server_request_duration_seconds')).toBeUndefined();
    // Counters: every sample of the name, whatever its labels; not a longer name that starts with it.
    const counters = ['# TYPE otel_spans_dropped counter', 'otel_spans_dropped_total{reason="queue"} 2', 'otel_spans_dropped_total 3', 'otel_spans_dropped_total_x 40'].join('\n');
    expect(sampleSum(counters, 'otel_spans_dropped_total')).toBe(5);
    expect(sampleSum(counters, 'otel_spans_dropped_total', { reason: 'queue' })).toBe(2);
    expect(sampleSum(counters, 'otel_spans_started_total')).toBeUndefined();
  });

  it('parses CLI options: --quick is a short run that writes no docs; unknown variants are refused', () => {
    const q = parseArgs(['--quick']);
    expect(q.write).toBeUndefined();
    expect(q.opts.rounds).toBeGreaterThanOrEqual(2);
    expect(q.opts.variants[0]).toBe('baseline');
    // The quick run leaves out the slow stock references and the unsampled breakdown; a full run has them.
    expect(q.opts.variants).not.toContain('stock');
    expect(q.opts.variants).not.toContain('stock-sampled');
    expect(q.opts.variants).not.toContain('unsampled');
    expect(parseArgs([]).opts.variants).toEqual(expect.arrayContaining(['production', 'unsampled', 'full', 'stock', 'stock-sampled']));
    expect(parseArgs([]).write).toMatch(/docs\/benchmarks\.md$/);
    expect(parseArgs(['--variants', 'full']).opts.variants).toEqual(['baseline', 'full']);
    expect(() => parseArgs(['--variants', 'nope'])).toThrow(/unknown/);
    expect(() => parseArgs(['--warmup', 'soon'])).toThrow(/--warmup must be a whole number/);
    expect(() => parseArgs(['--rounds', '0'])).toThrow(/--rounds must be a positive integer/);
    expect(parseArgs(['--warmup', '0']).opts.warmupSeconds).toBe(0);
    expect(parseArgs([]).opts.sliceSeconds).toBe(1);
    expect(() => parseArgs(['--slice', '0.5'])).toThrow(/--slice must be a positive integer/);
    // Node flags go to every variant alike; anything that is not an option is refused.
    expect(parseArgs([]).opts.nodeFlags).toBeUndefined();
    expect(parseArgs(['--node-flags', ' --min-semi-space-size=16  --max-semi-space-size=16 ']).opts.nodeFlags).toEqual(['--min-semi-space-size=16', '--max-semi-space-size=16']);
    expect(() => parseArgs(['--node-flags', '--max-semi-space-size=16 16'])).toThrow(/--node-flags takes Node options starting with --.*got "16"/);
    expect(() => parseArgs(['--node-flags', ' '])).toThrow(/--node-flags takes Node options/);
    // The warm-up may use more connections than the measured phase (the JIT warms up per request).
    expect(parseArgs([]).opts.warmupConnections).toBeUndefined();
    expect(warmupOptions(parseArgs([]).opts).connections).toBe(8);
    const warmWide = parseArgs(['--warmup-connections', '32', '--connections', '4']).opts;
    expect(warmupOptions(warmWide).connections).toBe(32);
    expect(warmWide.connections).toBe(4);
    expect(() => parseArgs(['--warmup-connections', '0'])).toThrow(/--warmup-connections must be a positive integer/);
    expect(() => parseArgs(['--warmup-connections', 'many'])).toThrow(/--warmup-connections must be a positive integer/);
    // The services' core idles between requests unless asked otherwise.
    expect(parseArgs([]).opts.busyServerCpu).toBeUndefined();
    expect(parseArgs(['--busy-server-cpu']).opts.busyServerCpu).toBe(true);
  });

  it('refuses an argument it does not know or an option without its value, with the usage text', () => {
    // A typo (or --help taken as a run) must not start an hour-long run with the defaults.
    expect(() => parseArgs(['--workload', 'stream'])).toThrow(/unknown argument "--workload"[\s\S]*usage: npm run bench:overhead[\s\S]*--workloads a,b/);
    expect(() => parseArgs(['--quick', 'stream'])).toThrow(/unknown argument "stream"/);
    expect(() => parseArgs(['--rounds'])).toThrow(/--rounds needs a value/);
    // A value that looks like an option is still the value (--node-flags takes Node's options).
    expect(parseArgs(['--node-flags', '--max-semi-space-size=16', '--quick']).opts.nodeFlags).toEqual(['--max-semi-space-size=16']);
    // --help prints the usage and runs nothing: the script exits at once, without starting a service.
    const help = spawnSync(process.execPath, ['bench/overhead.ts', '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toBe(`${OVERHEAD_USAGE}\n`);
    for (const v of ['baseline', 'stock', 'healthz', 'upload']) expect(OVERHEAD_USAGE).toContain(v);
  });

  it('merges the slices of a phase: counts add up, percentiles are request-weighted, max is the largest', () => {
    const w = (requests: number, p95: number, max: number) => ({ requests, durationSeconds: 1, requestsPerSecond: requests, bytes: requests * 10, statusErrors: 1, socketErrors: 0, p50: p95 / 2, p95, p99: p95 * 2, max });
    const m = mergeWrk([w(300, 0.004, 0.02), w(100, 0.008, 0.05)]);
    expect(m).toEqual({ requests: 400, durationSeconds: 2, requestsPerSecond: 200, bytes: 4000, statusErrors: 2, socketErrors: 0, p50: 0.0025, p95: 0.005, p99: 0.01, max: 0.05 });
    expect(mergeWrk([]).requests).toBe(0);
    expect(mergeWrk([]).p95).toBe(0);
  });
});

describe('bench round order', () => {
  it('is a Williams design: every variant in every place and next to every other equally often', () => {
    for (let n = 1; n <= 8; n++) {
      const items = Array.from({ length: n }, (_, i) => `v${i}`);
      const period = n % 2 === 0 ? n : 2 * n;
      const places = new Map<string, number>();
      const follows = new Map<string, number>();
      for (let round = 0; round < period; round++) {
        const order = roundOrder(items, round);
        expect([...order].sort()).toEqual(items);
        order.forEach((v, i) => places.set(`${v}@${i}`, (places.get(`${v}@${i}`) ?? 0) + 1));
        for (let i = 0; i + 1 < n; i++) follows.set(`${order[i]}>${order[i + 1]}`, (follows.get(`${order[i]}>${order[i + 1]}`) ?? 0) + 1);
      }
      expect(places.size).toBe(n * n);
      expect(new Set(places.values())).toEqual(new Set([period / n]));
      // Every ordered pair of distinct variants, each as often.
      expect(follows.size).toBe(n * (n - 1));
      if (n > 1) expect(new Set(follows.values()).size).toBe(1);
      // The design repeats after its period.
      expect(roundOrder(items, period + 1)).toEqual(roundOrder(items, 1));
    }
    expect(roundOrder(['a', 'b', 'c', 'd'], 0)).toEqual(['a', 'b', 'd', 'c']);
    expect(roundOrder(['a', 'b', 'c', 'd'], 1)).toEqual(['b', 'c', 'a', 'd']);
    expect(roundOrder([], 3)).toEqual([]);
  });
});

describe('bench reporting', () => {
  // User time is 60 % of the CPU unless given.
  const trial = (round: number, variant: Trial['variant'], cpuUs: number, rps: number, userUs = cpuUs * 0.6): Trial => ({
    round,
    variant,
    workload: 'healthz',
    wrk: { requests: rps * 2, durationSeconds: 2, requestsPerSecond: rps, bytes: 0, statusErrors: 0, socketErrors: 0, p50: 0.001, p95: 0.002, p99: 0.003, max: 0.01 },
    slices: 2,
    warmupRequests: 500,
    cpuSeconds: (cpuUs * rps * 2) / 1e6,
    cpuUsPerRequest: cpuUs,
    userCpuUsPerRequest: userUs,
    spansPerRequest: variant === 'full' ? 1 : 0,
    serverSpansPerRequest: variant === 'full' ? 1 : 0,
    histogramDelta: rps * 2,
    problems: [],
  });

  const resultOf = (variants: Variant[], workloads: Workload[], trials: Trial[]): BenchResult => ({
    options: { ...parseArgs(['--quick']).opts, variants, workloads },
    trials,
    startedAt: '2026-11-25T00:00:00Z',
    elapsedSeconds: 1,
    loadAverage: { start: 0.5, end: 0.6 },
  });

  it('pairs each variant with the baseline of the same round and judges the CPU claim on the interval', () => {
    const result = resultOf(['baseline', 'full'], ['healthz'], [trial(0, 'baseline', 100, 5000), trial(0, 'full', 120, 4500), trial(1, 'baseline', 110, 4800), trial(1, 'full', 131, 4400), trial(2, 'baseline', 90, 5200), trial(2, 'full', 109, 4700)]);
    const rows = summarize(result);
    const full = rows.find((r) => r.variant === 'full');
    expect(full?.cpuAddedUs?.diff).toBeCloseTo(20, 10);
    expect(full?.spansPerRequest).toBe(1);
    expect(rows.find((r) => r.variant === 'baseline')?.cpuAddedUs).toBeUndefined();
    const c = claims(rows).find((x) => x.claim.includes('100 % sampling') && x.claim.includes('healthz'));
    // +20 µs with a tight interval is under the 30 µs target.
    expect(c?.result).toBe('holds');
    expect(table(rows)).toContain('| healthz | full |');
  });

  it('splits the added CPU into user and kernel time, and reports the calibration control\'s kernel share', () => {
    const result = resultOf(['baseline', 'calibration', 'production'], ['healthz'], [
      // Baseline 25 µs (15 user + 10 kernel); calibration +8 user, +2 kernel; production +6 user, +3 kernel.
      trial(0, 'baseline', 25, 5000, 15),
      trial(0, 'calibration', 35, 4000, 23),
      trial(0, 'production', 34, 4100, 21),
      trial(1, 'baseline', 26, 4900, 16),
      trial(1, 'calibration', 36, 3900, 24),
      trial(1, 'production', 35, 4000, 22),
      trial(2, 'baseline', 24, 5100, 14),
      trial(2, 'calibration', 34, 4100, 22),
      trial(2, 'production', 33, 4200, 20),
    ]);
    const rows = summarize(result);
    const cal = rows.find((r) => r.variant === 'calibration')!;
    expect(cal.userCpuUs).toBeCloseTo(23, 10);
    expect(cal.kernelCpuUs).toBeCloseTo(12, 10);
    expect(cal.userCpuAddedUs?.diff).toBeCloseTo(8, 10);
    expect(cal.kernelCpuAddedUs?.diff).toBeCloseTo(2, 10);
    const prod = rows.find((r) => r.variant === 'production')!;
    expect(prod.cpuAddedUs?.diff).toBeCloseTo(9, 10);
    expect(prod.userCpuAddedUs?.diff).toBeCloseTo(6, 10);
    expect(prod.kernelCpuAddedUs?.diff).toBeCloseTo(3, 10);
    expect(rows.find((r) => r.variant === 'baseline')?.userCpuAddedUs).toBeUndefined();
    expect(table(rows)).toContain('| healthz | production | 4100 | 34.0 (21.0 + 13.0) | +9.0 [9.0, 9.0] | +6.0 [6.0, 6.0] / +3.0 [3.0, 3.0] |');
    // The claim still judges the total; its evidence names both parts.
    const c = claims(rows).find((x) => x.claim.includes('production profile') && x.claim.includes('healthz'));
    expect(c?.result).toBe('holds');
    expect(c?.evidence).toBe('+9.0 [9.0, 9.0] µs (user +6.0 [6.0, 6.0], kernel +3.0 [3.0, 3.0])');
    const check = calibrationCheck(rows).join('\n');
    expect(check).toContain('- healthz: a known userland cost measured as +8.0 [8.0, 8.0] µs/req of user CPU came with +2.0 [2.0, 2.0] µs/req of kernel CPU (25 % of the user time).');
    // No calibration row, no section.
    expect(calibrationCheck(rows.filter((r) => r.variant !== 'calibration'))).toEqual([]);
  });

  it('compares ours with the stock setup at the same sampling, paired by round', () => {
    const at = (round: number, variant: Trial['variant'], cpuUs: number, rps: number, p95: number): Trial => {
      const t = trial(round, variant, cpuUs, rps);
      return { ...t, workload: 'stream', wrk: { ...t.wrk, p95 } };
    };
    const result = resultOf(['baseline', 'production', 'stock-sampled', 'full', 'stock'], ['stream'], [
      // Baseline 2000 µs; production +50, stock-sampled +150 (round 1: +60 / +190); full +200, stock +500.
      at(0, 'baseline', 2000, 100, 0.1),
      at(0, 'production', 2050, 100, 0.1),
      at(0, 'stock-sampled', 2150, 99, 0.101),
      at(0, 'full', 2200, 99, 0.1),
      at(0, 'stock', 2500, 98, 0.102),
      at(1, 'baseline', 2100, 100, 0.1),
      at(1, 'production', 2160, 100, 0.1),
      at(1, 'stock-sampled', 2290, 99, 0.101),
      at(1, 'full', 2300, 99, 0.1),
      at(1, 'stock', 2600, 98, 0.102),
    ]);
    const rows = summarize(result);
    const c = stockComparisons(result, rows);
    expect(c.map((x) => `${x.ours}/${x.stock}`)).toEqual(['production/stock-sampled', 'full/stock']);
    const sampled = c[0]!;
    expect(sampled.oursAddedUs).toBeCloseTo(55, 10);
    expect(sampled.stockAddedUs).toBeCloseTo(170, 10);
    // Ours − stock per round: −100 and −130.
    expect(sampled.cpuDiffUs.diff).toBeCloseTo(-115, 10);
    expect(sampled.cpuDiffUs.pairs).toBe(2);
    expect(sampled.rpsRatio.ratio).toBeCloseTo(100 / 99, 10);
    expect(c[1]!.cpuDiffUs.diff).toBeCloseTo(-300, 10);
    const section = stockSection(c).join('\n');
    expect(section).toContain('## Ours against the stock setup');
    expect(section).toContain('| stream | head sampling 10 % | production | stock-sampled | 55.0 / 170.0 | 32 % | -115.0 [');
    expect(section).toContain('| stream | 100 % sampling | full | stock | 200.0 / 500.0 | 40 % | -300.0 [-300.0, -300.0] |');
    expect(markdown(result, rows, 'npm run bench:overhead -- (test)')).toContain(section);
    // On uploads ours samples every request (a critical route) and stock one in ten: the row says so.
    const uploads = { ...result, options: { ...result.options, workloads: ['upload' as const] }, trials: result.trials.map((t) => ({ ...t, workload: 'upload' as const })) };
    const uploadSection = stockSection(stockComparisons(uploads, summarize(uploads))).join('\n');
    expect(uploadSection).toContain('| upload | head sampling 10 % (ours keeps every upload, a critical route) | production | stock-sampled |');
    expect(uploadSection).toContain('| upload | 100 % sampling | full | stock |');
    // A run without both sides of a pair has no section.
    const oursOnly = { ...result, trials: result.trials.filter((t) => !t.variant.startsWith('stock')) };
    expect(stockComparisons(oursOnly, summarize(oursOnly))).toEqual([]);
    expect(stockSection([])).toEqual([]);
  });

  it('checks a head-sampled variant\'s SERVER spans against the binomial draw of its ratio', () => {
    // 10 000 requests at 10 %: 1 000 expected, one standard deviation is 30.
    expect(sampledSpanCheck(1000, 10_000, 0.1, 0)).toBeUndefined();
    expect(sampledSpanCheck(1140, 10_000, 0.1, 0)).toBeUndefined();
    expect(sampledSpanCheck(1160, 10_000, 0.1, 0)).toBe('1160 SERVER spans exported for 10000 requests at head sampling ratio 0.1 (expected 1000 ± 150)');
    // Half the spans dropped, or every request sampled: the variant is not what it says.
    expect(sampledSpanCheck(500, 10_000, 0.1, 16)).toMatch(/^500 SERVER spans exported/);
    expect(sampledSpanCheck(10_000, 10_000, 0.1, 16)).toMatch(/expected 1000 ± 166/);
    // The slack covers requests at the slice edges.
    expect(sampledSpanCheck(1166, 10_000, 0.1, 16)).toBeUndefined();
  });

  it('leaves a failed trial out of the means and the pairing, and lists it as a problem of its row', () => {
    const failed: Trial = { ...trial(1, 'full', 0, 0), failed: 'AbortError: This operation was aborted' };
    const result = resultOf(['baseline', 'full'], ['healthz'], [trial(0, 'baseline', 100, 5000), trial(0, 'full', 120, 4500), trial(1, 'baseline', 110, 4800), failed, trial(2, 'baseline', 90, 5200), trial(2, 'full', 110, 4700)]);
    const full = summarize(result).find((r) => r.variant === 'full');
    expect(full?.trials).toBe(2);
    expect(full?.cpuUs).toBeCloseTo(115, 10);
    // Rounds 0 and 2 only: +20 and +20 µs.
    expect(full?.cpuAddedUs?.diff).toBeCloseTo(20, 10);
    expect(full?.problems).toContain('round 2 failed: AbortError: This operation was aborted');
  });
});

describe('bench report file', () => {
  it('replaces only the first generated section of an existing report: later runs and the notes are kept', () => {
    const existing = ['# Instrumentation overhead benchmark', 'old run', '| a |', '|---|', '', '---', '', '# Second run', 'kept run', '', '## Not generated: notes', 'hand-written'].join('\n');
    const merged = mergeReport(existing, '# Instrumentation overhead benchmark\nnew run\n');
    expect(merged.text).toBe(['# Instrumentation overhead benchmark', 'new run', '', '---', '', '# Second run', 'kept run', '', '## Not generated: notes', 'hand-written'].join('\n'));
    expect(merged.keptLines).toBe(7);
    // Notes right after the report, no second run.
    expect(mergeReport('old\n\n## Not generated: notes\nmine', 'new\n').text).toBe('new\n\n## Not generated: notes\nmine');
    // Nothing to keep: a new file, or one that is all generated.
    expect(mergeReport(undefined, 'new\n')).toEqual({ text: 'new\n', keptLines: 0 });
    expect(mergeReport('old report only\n|---|\n', 'new\n')).toEqual({ text: 'new\n', keptLines: 0 });
  });
});

describe('bench components', () => {
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('the busy loop (--busy-server-cpu) spins at SCHED_IDLE on the given core, and stops', async () => {
    const taskset = requireBinary('taskset', 'apt-get install -y util-linux');
    const cpu = cpus().length - 1;
    const busy = await startBusyLoop(taskset, cpu);
    try {
      expect(spawnSync('chrt', ['-p', String(busy.pid)], { encoding: 'utf8' }).stdout).toMatch(/SCHED_IDLE/);
      expect(spawnSync(taskset, ['-p', '-c', String(busy.pid)], { encoding: 'utf8' }).stdout.trim()).toMatch(new RegExp(`: ${cpu}$`));
      // It spins: always runnable (R), never asleep. How much CPU it gets depends on what else
      // runs on the core (nothing of the service's, by SCHED_IDLE), so that is not asserted here.
      const state = () => readFileSync(`/proc/${busy.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];
      for (let i = 0; i < 5; i++) {
        expect(state()).toBe('R');
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await busy.stop();
    }
    expect(existsSync(`/proc/${busy.pid}`)).toBe(false);
  });

  it('the OTLP sink counts the spans (and SERVER spans) the real OTLP protobuf exporter sends', async () => {
    const sink = await startOtlpSink();
    closers.push(sink.close);
    const exporter = new OTLPTraceExporter({ url: `${sink.url}/v1/traces` });
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const tracer = provider.getTracer('bench-test');
    for (let i = 0; i < 3; i++) tracer.startSpan('GET /healthz', { kind: SpanKind.SERVER, attributes: { i } }).end();
    for (let i = 0; i < 2; i++) tracer.startSpan('s3.get_object', { kind: SpanKind.CLIENT }).end();
    await provider.forceFlush();
    await provider.shutdown();
    const c = sink.counts();
    expect(c.decodeErrors).toBe(0);
    expect(c.spans).toBe(5);
    expect(c.serverSpans).toBe(3);
    expect(c.traceBytes).toBeGreaterThan(0);
  });

  it('the S3 delay proxy relays requests and bodies intact in both directions', async () => {
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks).reverse()));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const proxy = await startDelayProxy({ host: '127.0.0.1', port: (server.address() as AddressInfo).port }, { min: 1, max: 3 });
    closers.push(proxy.close);
    const body = Buffer.alloc(300_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const res = await fetch(`${proxy.endpoint}/echo`, { method: 'POST', body });
    const back = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    expect(back.equals(Buffer.from(body).reverse())).toBe(true);
  });

  it('the S3 delay proxy draws a delay for every message, not once per connection', async () => {
    const server: Server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    // Request 1 and its response at the minimum (10 ms), request 2 and its response at the maximum (150 ms).
    const picks = [0, 0, 1, 1];
    let draws = 0;
    const proxy = await startDelayProxy({ host: '127.0.0.1', port: (server.address() as AddressInfo).port }, { min: 10, max: 150 }, () => picks[draws++] ?? 0.5);
    closers.push(proxy.close);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(async () => agent.destroy());
    const fetchOnce = () =>
      new Promise<{ ms: number; localPort: number | undefined; body: string }>((resolve, reject) => {
        const t0 = performance.now();
        get(`${proxy.endpoint}/x`, { agent }, (res) => {
          const localPort = res.socket.localPort;
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ ms: performance.now() - t0, localPort, body }));
        }).on('error', reject);
      });
    const first = await fetchOnce();
    const second = await fetchOnce();
    expect([first.body, second.body]).toEqual(['ok', 'ok']);
    expect(second.localPort).toBe(first.localPort); // one keep-alive connection carried both
    expect(draws).toBe(4); // one draw per request and per response
    expect(first.ms).toBeGreaterThanOrEqual(20);
    expect(second.ms).toBeGreaterThanOrEqual(300);
  });

  it('the S3 delay proxy refuses a delay range it cannot draw from, naming it', async () => {
    await expect(startDelayProxy({ host: '127.0.0.1', port: 9 }, { min: 20, max: 5 })).rejects.toThrow('delay proxy: need 0 <= min <= max ms, got 20-5');
    await expect(startDelayProxy({ host: '127.0.0.1', port: 9 }, { min: -1, max: 5 })).rejects.toThrow(/need 0 <= min <= max/);
  });
});

describe('bench:overhead interrupted', () => {
  it('tracks a service for the interrupt handler from its spawn: stopped while it is still starting, no process is left', async () => {
    const sink = await startOtlpSink();
    const logs = tempDir('bench-interrupt');
    try {
      const env: Env = {
        // Nothing listens there: the service starts without them, and is stopped before it is up.
        s3: { endpoint: 'http://127.0.0.1:9', bucket: 'videos', region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's' },
        redisUrl: 'redis://127.0.0.1:9',
        sinks: new Map(),
        logDir: logs.path,
        wrk: 'wrk',
        taskset: requireBinary('taskset', 'apt-get install -y util-linux'),
      };
      const before = new Set(cleanups);
      const starting = startService(env, 'baseline', { serverCpu: 0 }, 'interrupted', sink);
      await waitFor(() => cleanups.size > before.size, 10_000, 'the starting service to be tracked');
      // What the SIGINT/SIGTERM handler does: run every tracked cleanup.
      for (const fn of [...cleanups].filter((f) => !before.has(f))) await fn();
      await expect(starting).rejects.toThrow(/video-api \(baseline\) did not start/);
      expect(cleanups.size).toBe(before.size);
      // The service's command line names its V8 log in the run's log dir.
      expect(spawnSync('pgrep', ['-f', logs.path]).status).toBe(1);
    } finally {
      logs.cleanup();
      await sink.close();
    }
  }, 30_000);
});

describe('bench:overhead end to end (one short round, machinery only, no timing assertions)', () => {
  it('starts s3rver, Redis, the OTLP sink and a baseline, a calibration, an unsampled and a 100 %-sampled video-api, drives them with wrk and checks the data', async () => {
    const result = await runBench({
      ...parseArgs(['--quick']).opts,
      rounds: 1,
      seconds: 2,
      warmupSeconds: 1,
      warmupConnections: 16,
      variants: ['baseline', 'calibration', 'unsampled', 'full'],
      workloads: ['healthz', 'stream'],
      // Given to every variant alike (a flag Node would refuse makes the services fail to start).
      nodeFlags: ['--max-semi-space-size=16'],
      pinHarness: false,
      log: () => undefined,
    });
    expect(result.trials.map((t) => `${t.variant}/${t.workload}`).sort()).toEqual([
      'baseline/healthz',
      'baseline/stream',
      'calibration/healthz',
      'calibration/stream',
      'full/healthz',
      'full/stream',
      'unsampled/healthz',
      'unsampled/stream',
    ]);
    for (const t of result.trials) {
      expect(t.problems).toEqual([]);
      // Two 1 s slices each, the processes taking turns.
      expect(t.slices).toBe(2);
      expect(t.wrk.requests).toBeGreaterThan(0);
      expect(t.cpuUsPerRequest).toBeGreaterThan(0);
      expect(t.userCpuUsPerRequest).toBeGreaterThan(0);
      expect(t.userCpuUsPerRequest).toBeLessThanOrEqual(t.cpuUsPerRequest);
      // Its second of warm-up served requests before measuring began, and the report says how many.
      expect(t.warmupRequests).toBeGreaterThan(0);
    }
    const method = markdown(result, summarize(result), 'npm run bench:overhead -- (test)');
    expect(method).toContain('1 s of warm-up (under `-c16`');
    const streamWarm = result.trials.filter((t) => t.workload === 'stream').map((t) => t.warmupRequests);
    expect(method).toContain(`stream ${Math.min(...streamWarm)}–${Math.max(...streamWarm)}`);
    // The calibration control is the SDK-disabled baseline plus its busy loop: no spans either.
    expect(result.trials.find((t) => t.variant === 'calibration' && t.workload === 'healthz')?.spansPerRequest).toBe(0);
    const full = result.trials.find((t) => t.variant === 'full' && t.workload === 'healthz');
    const baseline = result.trials.find((t) => t.variant === 'baseline' && t.workload === 'healthz');
    // The data check: at 100 % sampling every request exported its SERVER span and was counted
    // in the histogram; the SDK-disabled baseline exported nothing.
    expect(full?.serverSpansPerRequest).toBeGreaterThan(0.9);
    expect(full?.histogramDelta).toBeDefined();
    expect(baseline?.spansPerRequest).toBe(0);
    // Head sampling ratio 0: requests counted, no SERVER span exported (the run would list one as a problem).
    const unsampled = result.trials.find((t) => t.variant === 'unsampled' && t.workload === 'healthz');
    expect(unsampled?.histogramDelta).toBeGreaterThan(0);
    expect(unsampled?.serverSpansPerRequest).toBe(0);
  }, 120_000);

  it('runs the stock setup at 100 % and at the production ratio beside ours, each passing its data check', async () => {
    const result = await runBench({
      ...parseArgs(['--quick']).opts,
      rounds: 1,
      seconds: 2,
      warmupSeconds: 1,
      variants: ['baseline', 'production', 'stock-sampled', 'stock'],
      workloads: ['healthz'],
      pinHarness: false,
      log: () => undefined,
    });
    for (const t of result.trials) {
      // Includes the data checks: the sampled variants' SERVER spans within five binomial
      // standard deviations of 10 % of the requests, stock's one per request.
      expect(t.problems).toEqual([]);
      expect(t.wrk.requests).toBeGreaterThan(100);
    }
    const spans = (v: Trial['variant']) => result.trials.find((t) => t.variant === v)!.serverSpansPerRequest;
    expect(spans('stock')).toBeGreaterThan(0.9);
    expect(spans('stock-sampled')).toBeGreaterThan(0.02);
    expect(spans('stock-sampled')).toBeLessThan(0.3);
    expect(spans('production')).toBeGreaterThan(0.02);
    expect(spans('production')).toBeLessThan(0.3);
    const rows = summarize(result);
    const section = stockSection(stockComparisons(result, rows)).join('\n');
    expect(section).toContain('| healthz | head sampling 10 % | production | stock-sampled |');
    // No `full` variant ran: the 100 % pair is left out.
    expect(section).not.toContain('| 100 % sampling |');
  }, 120_000);
});

describe('bench/gc-trace.ts parser', () => {
  // Lines as Node 24 prints them with --trace-gc (a mark-compact and scavenges).
  const trace = [
    '[3067:0x14d2e000]     1851 ms: Mark-Compact 39.7 (100.3) -> 28.8 (98.5) MB, pooled: 1 MB, 16.24 / 0.00 ms  (average mu = 0.987) finalize incremental marking',
    '[3067:0x14d2e000]     9000 ms: Scavenge 120.0 (200.0) -> 70.0 (200.5) MB, pooled: 0 MB, 9.00 / 0.00 ms  (average mu = 0.98) task;',
    '[3067:0x14d2e000]    10000 ms: Scavenge 121.0 (201.0) -> 80.0 (201.5) MB, pooled: 0 MB, 4.00 / 0.00 ms  (average mu = 0.98) task;',
    '[3067:0x14d2e000]    10500 ms: Scavenge 130.0 (202.0) -> 81.0 (202.5) MB, 2.00 / 0.01 ms  (average mu = 0.98) allocation failure;',
    '[3067:0x14d2e000]    12000 ms: Scavenge 131.0 (203.0) -> 83.0 (203.5) MB, pooled: 0 MB, 3.00 / 0.00 ms  (average mu = 0.98) task;',
  ].join('\n');

  it('summarises the scavenges from a point in time: rate, mean pause and old-generation growth', async () => {
    const { summarizeScavenges } = await import('../bench/gc-trace.ts');
    const s = summarizeScavenges(trace, 10000)!;
    expect(s.scavenges).toBe(3);
    expect(s.perSecond).toBeCloseTo(1.5, 10);
    expect(s.meanPauseMs).toBeCloseTo(3, 10);
    expect(s.heapAfterFirstMb).toBe(80);
    expect(s.heapAfterLastMb).toBe(83);
    expect(s.growthMbPerSecond).toBeCloseTo(1.5, 10);
    // Fewer than two scavenges in the window: no rate can be given.
    expect(summarizeScavenges(trace, 11000)).toBeUndefined();
  });

  it('counts the mark-compacts from a point in time with their main-thread time (pause plus incremental steps)', async () => {
    const { summarizeMarkCompacts } = await import('../bench/gc-trace.ts');
    const more = [
      trace,
      '[3067:0x14d2e000]    11000 ms: Mark-Compact 128.7 (193.0) -> 22.9 (152.9) MB, pooled: 0 MB, 15.93 / 0.00 ms  (+ 8.8 ms in 12 steps since start of marking, biggest step 3.1 ms, walltime since start of marking 37 ms) (average mu = 0.923, current mu = 0.923) finalize incremental marking via stack guard; GC in old space requested',
      '[3067:0x14d2e000]    11500 ms: Mark-Compact 58.2 (186.8) -> 44.2 (173.0) MB, pooled: 0 MB, 9.24 / 0.00 ms  (+ 19.9 ms in 81 steps since start of marking, biggest step 16.1 ms, walltime since start of marking 34 ms) (average mu = 0.854, current mu = 0.654) finalize incremental marking via stack guard; GC in old space requested',
    ].join('\n');
    const s = summarizeMarkCompacts(more, 10000);
    expect(s.count).toBe(2);
    expect(s.mainThreadMs).toBeCloseTo(15.93 + 8.8 + 9.24 + 19.9, 10);
    // The one at 1851 ms (no incremental steps printed) counts from an earlier point.
    const all = summarizeMarkCompacts(more, 0);
    expect(all.count).toBe(3);
    expect(all.mainThreadMs).toBeCloseTo(s.mainThreadMs + 16.24, 10);
    expect(summarizeMarkCompacts(more, 12000)).toEqual({ count: 0, mainThreadMs: 0 });
  });
});

describe('bench:gc --alloc (bench/alloc-sample.ts and the site summary)', () => {
  it('sums sampled bytes per request by allocating function, naming builtins by their caller', async () => {
    const { allocationSites, allocationDiff } = await import('../bench/gc-trace.ts');
    const root = process.cwd();
    const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber });
    const profile = {
      head: {
        id: 1,
        callFrame: frame('(root)', '', -1),
        children: [
          {
            id: 2,
            callFrame: frame('handler', `file://${root}/src/api/app.ts`, 9),
            children: [{ id: 3, callFrame: frame('WeakSet', '', -1) }],
          },
          { id: 4, callFrame: frame('isAnyValue', 'file:///x/node_modules/@opentelemetry/core/dist/common/attributes.mjs', 134) },
        ],
      },
      samples: [
        { size: 100, nodeId: 2 },
        { size: 300, nodeId: 3 },
        { size: 300, nodeId: 3 },
        { size: 200, nodeId: 4 },
      ],
    };
    const r = allocationSites(profile, 10);
    expect(r.perRequest).toBe(90);
    expect(r.sites.get('handler src/api/app.ts:10')).toBe(10);
    expect(r.sites.get('WeakSet in handler src/api/app.ts:10')).toBe(60);
    expect(r.sites.get('isAnyValue @opentelemetry/core/dist/common/attributes.mjs:135')).toBe(20);
    const base = new Map([['a', 5], ['b', 50]]);
    const other = new Map([['a', 25], ['b', 40], ['c', 7]]);
    expect(allocationDiff(base, other, 2)).toEqual([
      { site: 'a', base: 5, other: 25 },
      { site: 'c', base: 0, other: 7 },
    ]);
    expect(() => allocationSites(profile, 0)).toThrow(/no requests counted/);
  });

  it('profiles a real process between two SIGUSR2 and counts its HTTP requests', async () => {
    const { mkdtempSync, readFileSync, existsSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { spawn } = await import('node:child_process');
    const { pathToFileURL } = await import('node:url');
    const { allocationSites } = await import('../bench/gc-trace.ts');
    const dir = mkdtempSync(join(tmpdir(), 'alloc-sample-'));
    const preload = `${pathToFileURL(join(process.cwd(), 'bench/alloc-sample.ts')).href}?dir=${encodeURIComponent(dir)}&interval=512`;
    const server = `require('http').createServer(function allocateRows(q, s) { const rows = []; for (let i = 0; i < 2000; i++) rows.push({ i, s: 'row' + i }); s.end(String(rows.length)); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`;
    const child = spawn(process.execPath, [`--import=${preload}`, '-e', server], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()); // before sampling: not counted
      child.kill('SIGUSR2');
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 20; i++) await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
      child.kill('SIGUSR2');
      const out = join(dir, `alloc-${child.pid}.json`);
      for (let i = 0; i < 100 && !existsSync(out); i++) await new Promise((r) => setTimeout(r, 100));
      const got = JSON.parse(readFileSync(out, 'utf8')) as { requests: number; profile: Parameters<typeof allocationSites>[0] };
      expect(got.requests).toBe(20);
      const { perRequest, sites } = allocationSites(got.profile, got.requests);
      // 2000 objects and strings per request, all garbage by the end: only a profile that keeps
      // freed objects sees them.
      const handler = [...sites].filter(([site]) => site.includes('allocateRows')).reduce((a, [, v]) => a + v, 0);
      expect(handler).toBeGreaterThan(20_000);
      expect(perRequest).toBeGreaterThanOrEqual(handler);
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
