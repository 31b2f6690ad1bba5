// bench/instructions.ts: instructions per request under callgrind. Its parsers and report, and one
// short real run (valgrind, s3rver, Redis, the OTLP sinks, two video-api processes).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callgrindTotal, categorize, instructionTable, parseInstructionArgs, runInstructions, summarizeInstructions, type InstructionTrial } from '../bench/instructions.ts';

// The shape of `callgrind_annotate --inclusive=no` output (abridged from a real dump).
const ANNOTATED = `--------------------------------------------------------------------------------
Ir                   
--------------------------------------------------------------------------------
195,449,759 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir                  file:function
--------------------------------------------------------------------------------
6,011,251 ( 3.08%)  ???:Builtins_KeyedLoadIC_Megamorphic [/opt/node24/bin/node]
2,100,000 ( 1.07%)  ???:v8::internal::compiler::GraphReducer::ReduceTop() [/opt/node24/bin/node]
  400,000 ( 0.20%)  ???:v8::internal::maglev::MaglevGraphBuilder::VisitLdaNamedProperty() [/opt/node24/bin/node]
  698,000 ( 0.36%)  ???:heap::base::SlotCallbackResult v8::internal::Scavenger::ScavengeObject<v8::internal::FullHeapObjectSlot>(v8::internal::FullHeapObjectSlot, v8::internal::Tagged<v8::internal::HeapObject>) [/opt/node24/bin/node]
3,491,092 ( 1.79%)  ???:0x0000000028207940 [???]
`;

const trial = (round: number, variant: InstructionTrial['variant'], perRequest: number, extra: Partial<InstructionTrial> = {}): InstructionTrial => ({
  round,
  variant,
  workload: 'healthz',
  requests: 1000,
  perRequest,
  compilePerRequest: 0,
  gcPerRequest: 0,
  serverSpansPerRequest: 0,
  problems: [],
  ...extra,
});

describe('bench:instructions parsing and report', () => {
  it('sums self costs into total, compiler and GC, and reads the totals line of a dump', () => {
    expect(categorize(ANNOTATED)).toEqual({ total: 6_011_251 + 2_100_000 + 400_000 + 698_000 + 3_491_092, compile: 2_500_000, gc: 698_000 });
    expect(callgrindTotal('events: Ir\nsummary: 0\nfn=x\n0 5\ntotals: 12345\n')).toBe(12345);
    expect(() => callgrindTotal('events: Ir\n')).toThrow(/totals/);
  });

  it('parses options: defaults, a baseline always included, and clear refusals', () => {
    const { opts, write } = parseInstructionArgs([]);
    expect(opts.variants).toEqual(['baseline', 'unsampled', 'production', 'full']);
    expect(opts.workloads).toEqual(['healthz']);
    expect(opts.warmup).toBe(100_000);
    expect(write).toBeUndefined();
    expect(parseInstructionArgs(['--variants', 'production', '--workloads', 'stream']).opts.variants).toEqual(['baseline', 'production']);
    expect(() => parseInstructionArgs(['--variants', 'fast'])).toThrow(/--variants: unknown "fast"/);
    expect(() => parseInstructionArgs(['--requests', '0'])).toThrow(/--requests must be a positive integer/);
    expect(() => parseInstructionArgs(['--warmup', '-1'])).toThrow(/--warmup must be a whole number/);
    const kept = parseInstructionArgs(['--node-flags', '--perf-basic-prof --max-semi-space-size=16', '--keep', '/tmp/x']).opts;
    expect([kept.nodeFlags, kept.keep]).toEqual([['--perf-basic-prof', '--max-semi-space-size=16'], '/tmp/x']);
    expect(() => parseInstructionArgs(['--node-flags', 'perf-basic-prof'])).toThrow(/--node-flags takes Node options starting with --/);
    // bench:overhead's options that this script does not take are refused, not ignored.
    expect(() => parseInstructionArgs(['--quick'])).toThrow(/unknown argument "--quick"[\s\S]*usage: npm run bench:instructions/);
    expect(() => parseInstructionArgs(['--seconds', '8'])).toThrow(/unknown argument "--seconds"/);
    expect(() => parseInstructionArgs(['--keep'])).toThrow(/--keep needs a value/);
  });

  it('pairs each variant with the baseline of its round, and leaves failed trials out with their reason', () => {
    const trials = [
      trial(0, 'baseline', 80_000),
      trial(1, 'baseline', 76_000),
      trial(0, 'production', 100_000, { serverSpansPerRequest: 0.1 }),
      trial(1, 'production', 98_000, { serverSpansPerRequest: 0.1 }),
      trial(0, 'full', 0, { failed: 'valgrind: boom' }),
      trial(1, 'full', 130_000, { serverSpansPerRequest: 1 }),
    ];
    const rows = summarizeInstructions(trials, ['baseline', 'production', 'full'], ['healthz']);
    const prod = rows.find((r) => r.variant === 'production')!;
    expect(prod.added).toBe(21_000);
    expect([prod.addedMin, prod.addedMax]).toEqual([20_000, 22_000]);
    const full = rows.find((r) => r.variant === 'full')!;
    expect(full.rounds).toBe(1);
    expect(full.added).toBe(54_000);
    expect(full.problems).toEqual(['failed: valgrind: boom']);
    const table = instructionTable(rows);
    expect(table).toContain('| healthz | production | 2 | 99.0k (98.0k–100.0k) | +21.0k (+20.0k to +22.0k) | +26.9 % |');
    expect(table).toContain('| healthz | baseline | 2 | 78.0k (76.0k–80.0k) | — | — |');
  });
});

describe('bench:instructions end to end (one short round, machinery only)', () => {
  it('counts the instructions of a baseline and a 100 %-sampled video-api under callgrind, with the data check, and keeps the dumps', async () => {
    const keep = mkdtempSync(join(tmpdir(), 'instr-keep-'));
    const root = fileURLToPath(new URL('..', import.meta.url));
    const v8Logs = () => readdirSync(root).filter((f) => /^isolate-.*v8\.log$/.test(f));
    const logsBefore = v8Logs();
    const { trials } = await runInstructions({
      ...parseInstructionArgs([]).opts,
      variants: ['baseline', 'full'],
      rounds: 1,
      warmup: 200,
      requests: 100,
      chunk: 50,
      pinHarness: false,
      nodeFlags: ['--perf-basic-prof'],
      keep,
      log: () => undefined,
    });
    expect(trials.map((t) => t.variant).sort()).toEqual(['baseline', 'full']);
    for (const t of trials) {
      expect(t.failed).toBeUndefined();
      expect(t.problems).toEqual([]);
      // A request through Fastify is tens of thousands of instructions at least; compile and GC are parts of it.
      expect(t.perRequest).toBeGreaterThan(10_000);
      expect(t.compilePerRequest + t.gcPerRequest).toBeLessThan(t.perRequest);
    }
    // Every counted request of the 100 % variant exported its SERVER span, and no warm-up span was
    // exported in the window (its last batch is flushed before counting starts); the baseline none.
    expect(trials.find((t) => t.variant === 'full')!.serverSpansPerRequest).toBe(1);
    expect(trials.find((t) => t.variant === 'baseline')!.serverSpansPerRequest).toBe(0);
    // --keep: each counted dump (the one the figure came from) and the JIT names Node wrote.
    for (const t of trials) {
      expect(callgrindTotal(readFileSync(join(keep, `r0-${t.variant}-healthz.callgrind`), 'utf8')) / t.requests).toBe(t.perRequest);
      expect(readFileSync(join(keep, `r0-${t.variant}.perf.map`), 'utf8')).toMatch(/^[0-9a-f]+ [0-9a-f]+ JS:/m);
    }
    // The V8 log --perf-basic-prof turns on goes to the run's temp dir, not the repository.
    expect(v8Logs().filter((f) => !logsBefore.includes(f))).toEqual([]);
    rmSync(keep, { recursive: true, force: true });
  }, 300_000);
});
