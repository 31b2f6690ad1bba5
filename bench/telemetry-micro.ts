// Microbenchmark of our per-request telemetry cost: CPU µs per request of a tiny Fastify route
// with instrumentFastify off / on at the production ratio (0.1) / on at ratio 1, interleaved in
// rounds within one process (fastify.inject, so no socket noise), spans exported by the real
// batch processor + OTLP/HTTP protobuf exporter to a sink in a separate process.
//
//   node bench/telemetry-micro.ts [--rounds 40] [--requests 1000] [--attribute]
//
// --attribute adds a load-independent figure: each instrumented variant runs once more under the
// V8 sampling profiler (node:inspector), and the share of CPU samples whose stack is inside
// src/telemetry (stopping at Fastify/light-my-request frames, so the handler is not counted) times
// that run's CPU µs/request estimates the time spent in our instrumentation. Ratios within one run
// survive a loaded machine far better than differences between runs; the profiler itself inflates
// both sides, and GC caused by our allocations is not attributed (it shows in the paired figure).
//
// Many short interleaved rounds (the order rotates each round) make the comparison paired: each
// round's `off` batch is the baseline of the same round's instrumented batches, so drifts in
// machine load cancel. Prints per-variant median CPU µs/request, and the added cost vs `off` as
// the median of the per-round differences and the mean with its 95 % confidence interval.
import { spawn } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace';
import Fastify, { type FastifyInstance } from 'fastify';
import { ROUTES } from '../src/signals/index.ts';
import { instrumentFastify } from '../src/telemetry/http-server.ts';
import { createSampler } from '../src/telemetry/sampler.ts';
import { startTelemetry } from '../src/telemetry/sdk.ts';
import { cliOptions, exitWithUsageIfAsked } from './cli.ts';

const USAGE = `usage: node bench/telemetry-micro.ts [options]
  --rounds N                   interleaved rounds (default 40)
  --requests N                 requests per variant and round (default 1000)
  --attribute                  also run each instrumented variant under the sampling profiler`;
const cliArgv = process.argv.slice(2);
exitWithUsageIfAsked(cliArgv, USAGE);
const cli = cliOptions(cliArgv, { values: ['--rounds', '--requests'], flags: ['--attribute'], usage: USAGE });
function arg(name: string, def: number): number {
  const v = Number(cli.val(`--${name}`) ?? def);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}
const ROUNDS = arg('rounds', 40);
const REQUESTS = arg('requests', 1000);

// An OTLP sink in its own process: accepts and discards (its CPU is not ours).
const sink = spawn(
  process.execPath,
  ['-e', `require('http').createServer((q,s)=>{q.resume();q.on('end',()=>s.writeHead(200,{'content-type':'application/x-protobuf'}).end())}).listen(0,'127.0.0.1',function(){console.log(this.address().port)})`],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const sinkPort = await new Promise<number>((resolve) => sink.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));

// One SDK; the variant picks which sampler the root spans see.
const samplers: Record<string, Sampler> = { 'ratio 0.1': createSampler('production', {}), 'ratio 1': createSampler('development', {}) };
let activeSampler: Sampler = samplers['ratio 1']!;
const switchable: Sampler = {
  shouldSample: (ctx: Context, traceId: string, name: string, kind: SpanKind, attrs: Attributes, links: Link[]) =>
    activeSampler.shouldSample(ctx, traceId, name, kind, attrs, links),
  toString: () => 'switchable',
};
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${sinkPort}`;
const telemetry = await startTelemetry({ serviceName: 'video-api', environment: 'production', sampler: switchable, logExporter: null });

async function build(instrumented: boolean): Promise<FastifyInstance> {
  const app = Fastify();
  if (instrumented) instrumentFastify(app);
  app.get(ROUTES.videoList, { config: { routeClass: 'api' } }, async () => ({ videos: [], total: 0 }));
  await app.ready();
  return app;
}
const apps: Record<string, FastifyInstance> = { off: await build(false), 'ratio 0.1': await build(true), 'ratio 1': await build(true) };
const variants = Object.keys(apps);

async function run(variant: string, n: number): Promise<number> {
  const app = apps[variant]!;
  if (variant !== 'off') activeSampler = samplers[variant]!;
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const res = await app.inject({ method: 'GET', url: '/api/videos', headers: { 'user-agent': 'bench' } });
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  }
  const d = process.cpuUsage(before);
  return (d.user + d.system) / n;
}

// Warm-up (JIT, caches, first export).
for (const v of variants) await run(v, 2000);

const samples: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v, []]));
for (let r = 0; r < ROUNDS; r++) {
  // Rotate the order each round so no variant always runs first or last.
  const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
  for (const v of order) samples[v]!.push(await run(v, REQUESTS));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
// Two-sided 95 % t quantiles for small n - 1.
const T95 = [12.71, 4.3, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.2, 2.18, 2.16, 2.14, 2.13, 2.12, 2.11, 2.1, 2.09, 2.09, 2.08, 2.07, 2.07, 2.06, 2.06, 2.06, 2.05, 2.05, 2.05, 2.04];
function pairedCi(a: number[], b: number[]): { mean: number; lo: number; hi: number } {
  const d = a.map((x, i) => x - b[i]!);
  const n = d.length;
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const half = (T95[n - 2] ?? 1.96) * (sd / Math.sqrt(n));
  return { mean, lo: mean - half, hi: mean + half };
}

console.log(`node ${process.version}, ${ROUNDS} rounds x ${REQUESTS} requests per variant, fastify.inject GET ${ROUTES.videoList}`);
console.log('variant      | CPU µs/req (median) | added vs off: median of paired diffs | mean [95 % CI] µs/req');
for (const v of variants) {
  const ci = v === 'off' ? undefined : pairedCi(samples[v]!, samples.off!);
  const med = v === 'off' ? undefined : median(samples[v]!.map((x, i) => x - samples.off![i]!));
  console.log(
    `${v.padEnd(12)} | ${median(samples[v]!).toFixed(2).padStart(19)} | ${(med === undefined ? '-' : med.toFixed(2)).padStart(36)} | ${ci ? `${ci.mean.toFixed(2)} [${ci.lo.toFixed(2)}, ${ci.hi.toFixed(2)}]` : '-'}`,
  );
}
if (process.argv.includes('--attribute')) {
  interface ProfileNode {
    id: number;
    callFrame: { url: string };
    children?: number[];
  }
  interface Profile {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  }
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  const boundary = /fastify\/lib\/(hooks|handle-request|route|wrap-thenable)\.js|light-my-request|bench\/telemetry-micro/;
  console.log('attribution (V8 sampling profiler, 200 µs interval): share of CPU samples inside src/telemetry');
  for (const v of variants.filter((x) => x !== 'off')) {
    await session.post('Profiler.start');
    const perReq = await run(v, REQUESTS * 5);
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    let total = 0;
    let ours = 0;
    profile.samples.forEach((id, i) => {
      const dt = profile.timeDeltas[i] ?? 0;
      total += dt;
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const url = byId.get(cur)!.callFrame.url;
        if (url.includes('/src/telemetry/')) {
          ours += dt;
          break;
        }
        if (boundary.test(url)) break;
      }
    });
    const share = total > 0 ? ours / total : 0;
    console.log(`${v.padEnd(12)} | ${(share * 100).toFixed(1)} % of ${perReq.toFixed(1)} µs/req (profiled) = ${(share * perReq).toFixed(1)} µs/req in our code`);
  }
  session.disconnect();
}
await telemetry.shutdown();
for (const app of Object.values(apps)) await app.close();
sink.kill('SIGTERM');
