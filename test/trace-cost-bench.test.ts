// bench/trace-cost.ts end to end (one short run, machinery only): it runs the three variants,
// exports the trace to its sink, prints the paired table, and refuses a bad argument by name.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../bench/overhead.ts';
import { SAMPLING_RATIO } from '../src/signals/index.ts';

const script = join(ROOT, 'bench/trace-cost.ts');

describe('bench:trace-cost', () => {
  it('prints CPU per trace for none, telemetry and control, with telemetry costing more than none', () => {
    const r = spawnSync(process.execPath, [script, '--delay', '0', '--traces', '200', '--rounds', '2', '--warmup', '200'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const row = (v: string): RegExpMatchArray | null => r.stdout.match(new RegExp(`^\\| ${v} \\| ([\\d.]+) \\| (.+) \\|$`, 'm'));
    expect(row('none')?.[2]).toBe('—');
    for (const v of ['telemetry', 'control']) expect(row(v)?.[2], v).toMatch(/^[+-][\d.]+ \[-?[\d.]+, -?[\d.]+\]$/);
    expect(Number(row('telemetry')![1])).toBeGreaterThan(Number(row('none')![1]));
    expect(r.stdout).toMatch(/^telemetry - control, paired by round: /m);
    expect(r.stdout.match(/^round \d+: none [\d.]+, telemetry [\d.]+, control [\d.]+ µs CPU per trace$/gm)).toHaveLength(2);
  });

  it('builds the stream shape too: one request in 1/ratio sampled at the production profile, the same table', () => {
    // 2000 warm-up requests with 50 ms waits would take minutes; back to back they take a moment.
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [script, '--shape', 'stream', '--delay', '50', '--traces', '40', '--rounds', '2', '--warmup', '2000', '--warmup-back-to-back', '--control-iterations', '8'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`trace-cost: 40 stream-shaped traces per batch (1 in ${Math.round(1 / SAMPLING_RATIO.production)} sampled)`);
    expect(r.stdout).toContain('2000 warm-up traces per variant (back to back)');
    // The measured rounds keep the waits: 6 batches of 5 requests in sequence per connection, 3 waits each.
    expect(Date.now() - t0).toBeGreaterThan(6 * 5 * 3 * 50);
    for (const v of ['telemetry', 'control']) expect(r.stdout).toMatch(new RegExp(`^\\| ${v} \\| [\\d.]+ \\| [+-][\\d.]+ \\[-?[\\d.]+, -?[\\d.]+\\] \\|$`, 'm'));
    expect(r.stdout.match(/^round \d+: none [\d.]+, telemetry [\d.]+, control [\d.]+ µs CPU per trace$/gm)).toHaveLength(2);
  });

  it('runs only the variants asked for: with none and telemetry, no control row and no telemetry - control line', () => {
    const r = spawnSync(process.execPath, [script, '--variants', 'none,telemetry', '--delay', '0', '--traces', '50', '--rounds', '2', '--warmup', '50'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('no span processor');
    // Each telemetry batch ends with a flush: at least one export per batch (warm-up and two rounds).
    expect(Number(/^export requests the sink received: (\d+)$/m.exec(r.stdout)?.[1])).toBeGreaterThanOrEqual(3);
    expect(r.stdout.match(/^round \d+: none [\d.]+, telemetry [\d.]+ µs CPU per trace$/gm)).toHaveLength(2);
    expect(r.stdout).toMatch(/^\| telemetry \| [\d.]+ \| [+-][\d.]+ \[-?[\d.]+, -?[\d.]+\] \|$/m);
    expect(r.stdout).not.toMatch(/^\| control /m);
    expect(r.stdout).not.toContain('telemetry - control');
  });

  it('--no-export builds and ends the spans without a span processor, and says so', () => {
    const r = spawnSync(process.execPath, [script, '--no-export', '--shape', 'stream', '--variants', 'none,telemetry', '--delay', '0', '--traces', '100', '--rounds', '2', '--warmup', '100'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('no span processor (spans built and ended, not encoded or exported)');
    expect(r.stdout).toMatch(/^\| telemetry \| [\d.]+ \| [+-][\d.]+ \[-?[\d.]+, -?[\d.]+\] \|$/m);
    expect(r.stdout).toMatch(/^export requests the sink received: 0$/m);
  });

  it('refuses a bad argument, naming it', () => {
    const r = spawnSync(process.execPath, [script, '--rounds', '1'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--rounds must be a number >= 2');
    const shape = spawnSync(process.execPath, [script, '--shape', 'download'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(shape.status).not.toBe(0);
    expect(shape.stderr).toContain('--shape must be one of upload, stream, got download');
    const variants = spawnSync(process.execPath, [script, '--variants', 'none,stock'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(variants.status).not.toBe(0);
    expect(variants.stderr).toContain('--variants takes a comma-separated list of none, telemetry, control, got "stock"');
    // A typo is refused with the usage text, not run with the defaults; so is an option without its value.
    const typo = spawnSync(process.execPath, [script, '--trace', '100'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(typo.status).not.toBe(0);
    expect(typo.stderr).toMatch(/unknown argument "--trace"[\s\S]*usage: node bench\/trace-cost\.ts/);
    expect(typo.stdout).not.toContain('trace-cost:');
    const bare = spawnSync(process.execPath, [script, '--shape'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(bare.status).not.toBe(0);
    expect(bare.stderr).toContain('--shape needs a value');
  });

  it('--help prints the options and runs nothing', () => {
    const r = spawnSync(process.execPath, [script, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: node bench\/trace-cost\.ts \[options\]$/m);
    for (const o of ['--shape', '--delay', '--traces', '--rounds', '--warmup', '--warmup-back-to-back', '--concurrency', '--control-iterations', '--variants', '--no-export']) expect(r.stdout, o).toContain(`  ${o} `);
    expect(r.stdout).not.toContain('trace-cost:');
  });
});
