// k6: the overhead verdict. The same workload against the instrumented service (API_URL) and the
// uninstrumented baseline (BASELINE_URL: the same image with OTEL_SDK_DISABLED=true) in one run,
// in interleaved time slots (round r: A B, round r+1: B A, ...) so drift hits both alike, every
// sample tagged by variant and workload. handleSummary prints, per workload, the overhead of P95
// latency and of throughput (closed-loop VUs: requests completed in equal time), and fails the
// run (exec.test.fail, exit code 110) when any exceeds OVERHEAD_BUDGET_RATIO.
//
//   docker compose --profile load run --rm k6 run -e SESSION_TOKEN=... /load-tests/overhead.ts
// Env: API_URL, BASELINE_URL, SESSION_TOKEN, WORKLOADS (default stream,redirect,upload),
//      ROUNDS (default 4), SLOT (seconds per variant and workload slot, default 30), VUS (default 4).
import exec from 'k6/execution';
import type { Options, Scenario } from 'k6/options';
import { LATENCY_QUANTILE, LOAD_TAGS, LOAD_VARIANTS, OVERHEAD_BUDGET_RATIO, type LoadVariant } from '../src/signals/index.ts';
import { apiUrl, envNumber, runSession, sessionToken, uploadFixture } from './lib/k6-exec.ts';
import { redirectSession, streamSession, uploadSession, type LoadContext, type RequestPlan } from './scenarios.ts';

const WORKLOAD_PLANS: Record<string, (ctx: LoadContext, iteration: number) => RequestPlan[]> = {
  stream: streamSession,
  redirect: (ctx) => redirectSession(ctx),
  upload: uploadSession,
};

const workloads = (__ENV.WORKLOADS || 'stream,redirect,upload').split(',').map((w) => w.trim()).filter(Boolean);
for (const w of workloads) if (!WORKLOAD_PLANS[w]) throw new Error(`unknown workload "${w}" (known: ${Object.keys(WORKLOAD_PLANS).join(', ')})`);
const rounds = envNumber('ROUNDS', 4);
const slotSeconds = envNumber('SLOT', 30);
const vus = envNumber('VUS', 4);

const urls: Record<LoadVariant, string> = {
  baseline: apiUrl('BASELINE_URL', 'http://127.0.0.1:8081'),
  instrumented: apiUrl('API_URL', 'http://127.0.0.1:8080'),
};

/** Slots: for each round, each workload, both variants; the variant order alternates by round. */
function buildScenarios(): Record<string, Scenario> {
  const out: Record<string, Scenario> = {};
  let slot = 0;
  for (let r = 0; r < rounds; r++) {
    for (const w of workloads) {
      const order = r % 2 === 0 ? LOAD_VARIANTS : [...LOAD_VARIANTS].reverse();
      for (const v of order) {
        out[`${w}_${v}_r${r}`] = {
          executor: 'constant-vus',
          vus,
          duration: `${slotSeconds}s`,
          startTime: `${slot * slotSeconds}s`,
          // Slots must not overlap: in-flight iterations are cut at the end of the slot.
          gracefulStop: '0s',
          exec: v,
          env: { WORKLOAD: w },
          tags: { [LOAD_TAGS.variant]: v, [LOAD_TAGS.workload]: w },
        };
        slot++;
      }
    }
  }
  return out;
}

/** Thresholds that cannot fail; they make k6 keep the per-variant sub-metrics for handleSummary. */
function summarySubmetrics(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const w of workloads) {
    for (const v of LOAD_VARIANTS) {
      out[`http_req_duration{${LOAD_TAGS.variant}:${v},${LOAD_TAGS.workload}:${w},expected_response:true}`] = ['max>=0'];
      out[`iterations{${LOAD_TAGS.variant}:${v},${LOAD_TAGS.workload}:${w}}`] = ['count>=0'];
    }
  }
  return out;
}

export const options: Options = {
  scenarios: buildScenarios(),
  thresholds: summarySubmetrics(),
  summaryTrendStats: ['avg', 'p(50)', `p(${LATENCY_QUANTILE * 100})`, 'p(99)', 'max'],
};

export function setup(): Record<LoadVariant, LoadContext> {
  const token = sessionToken();
  return { baseline: uploadFixture(urls.baseline, token), instrumented: uploadFixture(urls.instrumented, token) };
}

function run(variant: LoadVariant, ctx: Record<LoadVariant, LoadContext>): void {
  const w = __ENV.WORKLOAD as string;
  const plans = (WORKLOAD_PLANS[w] as (c: LoadContext, i: number) => RequestPlan[])(ctx[variant], exec.scenario.iterationInTest);
  runSession(urls[variant], plans, { [LOAD_TAGS.variant]: variant, [LOAD_TAGS.workload]: w });
}

export function baseline(ctx: Record<LoadVariant, LoadContext>): void {
  run('baseline', ctx);
}
export function instrumented(ctx: Record<LoadVariant, LoadContext>): void {
  run('instrumented', ctx);
}

// handleSummary ------------------------------------------------------------------------------

interface SummaryMetric {
  values: Record<string, number>;
}
interface SummaryData {
  metrics: Record<string, SummaryMetric | undefined>;
}

export interface OverheadRow {
  workload: string;
  p95BaselineMs: number;
  p95InstrumentedMs: number;
  p95Overhead: number;
  iterationsBaseline: number;
  iterationsInstrumented: number;
  throughputOverhead: number;
  pass: boolean;
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

/** The verdict per workload, from the summary's per-variant sub-metrics. */
export function overheadRows(data: SummaryData, names: readonly string[] = workloads): OverheadRow[] {
  const q = `p(${LATENCY_QUANTILE * 100})`;
  return names.map((w) => {
    const get = (metric: string, v: LoadVariant, stat: string, extra = ''): number =>
      data.metrics[`${metric}{${LOAD_TAGS.variant}:${v},${LOAD_TAGS.workload}:${w}${extra}}`]?.values[stat] ?? NaN;
    const p95b = get('http_req_duration', 'baseline', q, ',expected_response:true');
    const p95i = get('http_req_duration', 'instrumented', q, ',expected_response:true');
    const nb = get('iterations', 'baseline', 'count');
    const ni = get('iterations', 'instrumented', 'count');
    const p95Overhead = p95i / p95b - 1;
    // Equal slot time per variant, closed-loop VUs: completed iterations are the throughput.
    const throughputOverhead = 1 - ni / nb;
    const pass = p95Overhead < OVERHEAD_BUDGET_RATIO && throughputOverhead < OVERHEAD_BUDGET_RATIO;
    return { workload: w, p95BaselineMs: p95b, p95InstrumentedMs: p95i, p95Overhead, iterationsBaseline: nb, iterationsInstrumented: ni, throughputOverhead, pass };
  });
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const rows = overheadRows(data);
  const lines = [
    `Instrumentation overhead (budget ${pct(OVERHEAD_BUDGET_RATIO)}; ${rounds} interleaved rounds of ${slotSeconds} s per variant and workload)`,
    'workload   P95 baseline  P95 instrumented  P95 overhead  iterations b/i     throughput overhead  verdict',
    ...rows.map(
      (r) =>
        `${r.workload.padEnd(10)} ${r.p95BaselineMs.toFixed(1).padStart(9)} ms ${r.p95InstrumentedMs.toFixed(1).padStart(13)} ms ${pct(r.p95Overhead).padStart(12)}  ` +
        `${`${r.iterationsBaseline}/${r.iterationsInstrumented}`.padEnd(17)} ${pct(r.throughputOverhead).padStart(19)}  ${r.pass ? 'PASS' : 'FAIL'}`,
    ),
  ];
  const failed = rows.filter((r) => !r.pass);
  lines.push(failed.length === 0 ? 'VERDICT: PASS' : `VERDICT: FAIL (${failed.map((r) => r.workload).join(', ')} over budget)`);
  if (failed.length > 0) exec.test.fail(`instrumentation overhead above ${pct(OVERHEAD_BUDGET_RATIO)}`);
  return {
    stdout: `${lines.join('\n')}\n`,
    'overhead-summary.json': JSON.stringify({ budget: OVERHEAD_BUDGET_RATIO, rounds, slotSeconds, vus, rows }, null, 2),
  };
}
