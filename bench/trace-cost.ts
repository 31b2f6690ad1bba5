// What one upload's trace costs the process, back to back and spread over I/O waits.
//
//   node bench/trace-cost.ts [--delay 12] [--traces 500] [--rounds 9] [--warmup 5000]
//                            [--concurrency 8] [--control-iterations 80] [--shape upload|stream]
//                            [--warmup-back-to-back] [--variants none,telemetry,control] [--no-export]
//
// An upload-shaped trace (the seven spans, attributes, events and S3 histogram observations of
// POST /api/upload/stream: SERVER, api.upload.stream, three S3 calls, the queue's PRODUCER span
// and its Redis command) is built with the service's own helpers (traceAsync, addSpanEvent,
// observe) through the service's SDK set-up at the production profile (uploads are always
// sampled), and exported to an OTLP sink in another process. No HTTP server, no AWS SDK, no Redis:
// each "call" is a wait, `--delay` ms of setTimeout (0: setImmediate, i.e. back to back).
//
// `--shape stream` builds a proxied range request's telemetry instead (GET /api/videos/:filename:
// SERVER, api.videos.stream, S3 head_object and get_object, the access-check and range events, the
// S3 observations; three waits: the two calls and the body), sampled at the production ratio: one
// request in 1/SAMPLING_RATIO.production is sampled, the others run inside an unsampled trace (a
// non-recording parent, as the service's HTTP hook leaves them), where the helpers take their
// unsampled path. The HTTP hook itself and its response headers are not in it.
//
// `--warmup-back-to-back` runs the warm-up traces without the waits (setImmediate), so a long
// warm-up (the JIT's) costs seconds, not minutes; the measured rounds keep `--delay`.
//
// `--no-export` starts the SDK without a span processor: spans are built, sampled and ended as
// before but never encoded or exported (what the SDK's span costs without our processor).
//
// `--variants` runs only the variants named (default all three), e.g. one per process under
// valgrind's callgrind, whose instruction totals of two such processes differ by that variant's
// work; the paired figures need `none` (and `telemetry - control` both of those).
//
// Three variants run in the same process, interleaved in rounds (the order rotates each round and
// reverses every other one), `--concurrency` traces in flight at a time like wrk's connections:
// - none: the same async skeleton (the waits) without telemetry;
// - telemetry: the skeleton with the trace;
// - control: the skeleton with plain JavaScript work (a loop and a small object per call) at the
//   points where telemetry runs, no telemetry (a positive control: ordinary code of about the
//   same back-to-back cost).
// CPU per trace = process CPU time (every thread: the export thread and V8's helpers included)
// over the batch, / traces; the telemetry batch ends with a flush, so its export is inside it.
// Added = paired with the same round's `none` batch, mean with a 95 % t interval.
//
// Why: on the S3 workloads `npm run bench:overhead` measures several times the CPU that the same
// spans cost in a tight loop (bench/span-floor.ts). With --delay 0 and --delay 12 this shows how
// much of that comes from the code running in short bursts between waits, and whether ordinary
// code (the control) pays the same (docs/benchmarks.md, "Session 23").
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { context, propagation, ROOT_CONTEXT, SpanKind, trace, TraceFlags, type Span } from '@opentelemetry/api';
import {
  ALWAYS_SAMPLED_HINT_ATTRIBUTE,
  ATTR,
  EVENT_ATTR,
  EVENT_JOB_ENQUEUED,
  EVENT_UPLOAD_COMPLETED,
  EVENT_UPLOAD_PART,
  MESSAGING_ATTR,
  MESSAGING_SYSTEM,
  QUEUE_THUMBNAIL,
  queueEnqueueSpanName,
  ROUTES,
  S3_ATTR,
  S3_DURATION_BUCKETS,
  S3_LABELS,
  s3SpanName,
  SAMPLING_RATIO,
  SERVICE_API,
  SPAN_UPLOAD_STREAM,
  SPAN_VIDEO_STREAM,
  EVENT_VIDEO_ACCESS_CHECK,
  EVENT_VIDEO_RANGE_REQUEST,
  type S3Operation,
} from '../src/signals/index.ts';
import { addSpanEvent, getTracer, histogram, observe, traceAsync } from '../src/telemetry/index.ts';
import { redisStatement } from '../src/telemetry/redis-statement.ts';
import { startTelemetry } from '../src/telemetry/sdk.ts';
import { cliOptions, exitWithUsageIfAsked } from './cli.ts';
import { formatDifference, mean, pairedDifference } from './stats.ts';

const TRACE_COST_USAGE = `usage: node bench/trace-cost.ts [options]
  --shape upload|stream        the trace: an upload's seven spans (default) or a proxied range request's
  --delay MS                   each call's wait (default 12; 0: back to back, setImmediate)
  --traces N                   traces per batch (default 500)
  --rounds N                   rounds of one batch per variant (default 9)
  --warmup N                   warm-up traces per variant (default 5000)
  --warmup-back-to-back        the warm-up without the waits
  --concurrency N              traces in flight (default 8)
  --control-iterations N       the control's loop size (default 80)
  --variants none,telemetry,control   the variants to run (default all three)
  --no-export                  no span processor: spans built and ended, never encoded or exported`;
const cliArgv = process.argv.slice(2);
exitWithUsageIfAsked(cliArgv, TRACE_COST_USAGE);
const cli = cliOptions(cliArgv, {
  values: ['--shape', '--delay', '--traces', '--rounds', '--warmup', '--concurrency', '--control-iterations', '--variants'],
  flags: ['--warmup-back-to-back', '--no-export'],
  usage: TRACE_COST_USAGE,
});

function arg(name: string, def: number, min: number): number {
  const raw = cli.val(`--${name}`);
  const v = raw === undefined ? def : Number(raw);
  if (!Number.isFinite(v) || v < min) throw new Error(`--${name} must be a number >= ${min}, got ${raw}`);
  return v;
}
const DELAY = arg('delay', 12, 0);
const TRACES = arg('traces', 500, 10);
const ROUNDS = arg('rounds', 9, 2);
const WARMUP = arg('warmup', 5000, 0);
const CONCURRENCY = arg('concurrency', 8, 1);
const CONTROL_ITERATIONS = arg('control-iterations', 80, 1);
/** The value after `--name`, or `def` without the option. */
function strArg(name: string, def: string): string {
  return cli.val(`--${name}`) ?? def;
}
const SHAPES = ['upload', 'stream'] as const;
const shapeArg = strArg('shape', 'upload');
if (!(SHAPES as readonly (string | undefined)[]).includes(shapeArg)) throw new Error(`--shape must be one of ${SHAPES.join(', ')}, got ${shapeArg}`);
const SHAPE = shapeArg as (typeof SHAPES)[number];

const ALL_VARIANTS = ['none', 'telemetry', 'control'] as const;
type Variant = (typeof ALL_VARIANTS)[number];
const variantsArg = strArg('variants', ALL_VARIANTS.join(','));
const VARIANTS = ALL_VARIANTS.filter((v) => variantsArg.split(',').includes(v));
const unknownVariant = variantsArg.split(',').find((v) => !(ALL_VARIANTS as readonly string[]).includes(v));
if (unknownVariant !== undefined) throw new Error(`--variants takes a comma-separated list of ${ALL_VARIANTS.join(', ')}, got "${unknownVariant}"`);

// An OTLP sink in its own process: accepts and discards (its CPU is not ours); it prints its port,
// then one "x" per export request it has read to the end, before answering it.
const sink = spawn(
  process.execPath,
  ['-e', `require('http').createServer((q,s)=>{q.resume();q.on('end',()=>{process.stdout.write('x');s.writeHead(200,{'content-type':'application/x-protobuf'}).end()})}).listen(0,'127.0.0.1',function(){console.log(this.address().port)})`],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
// Stopped with this process, however it ends.
process.on('exit', () => sink.kill());
const sinkPort = await new Promise<number>((resolve) => sink.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
let exportsReceived = 0;
sink.stdout.on('data', (d: Buffer) => (exportsReceived += d.toString().split('x').length - 1));
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${sinkPort}`;
const NO_EXPORT = process.argv.includes('--no-export');
const telemetry = await startTelemetry({ serviceName: SERVICE_API, environment: 'production', logExporter: null, ...(NO_EXPORT ? { spanExporter: null } : {}) });
const s3Duration = histogram('bench_trace_cost_s3_seconds', 'S3 latency stand-in of bench/trace-cost.ts.', [S3_LABELS.operation, S3_LABELS.outcome], S3_DURATION_BUCKETS);

const WARMUP_BACK_TO_BACK = process.argv.includes('--warmup-back-to-back');
let warming = false;
const wait = (): Promise<void> => new Promise<void>((resolve) => (DELAY > 0 && !(warming && WARMUP_BACK_TO_BACK) ? setTimeout(resolve, DELAY) : setImmediate(resolve)));

// The control's work: small objects, strings and a map, the kind of code a handler runs.
let sinkValue = 0;
const table = new Map<string, number>();
function work(): void {
  const items: { n: number; key: string }[] = [];
  let acc = sinkValue;
  for (let i = 0; i < CONTROL_ITERATIONS; i++) {
    const key = `k${(acc + i) & 255}`;
    items.push({ n: i, key });
    acc = (acc * 31 + (table.get(key) ?? i)) | 0;
    if ((i & 7) === 0) table.set(key, acc & 1023);
  }
  sinkValue = acc ^ items.length;
}

const BUCKET = 'videos';
const UPLOAD_ID = '2~Yf3qQ7c0cJm0sZr1e8yWq4Vh0n5Kd9Tb';
const BYTES = 65_536;
// The statement instrumentation-ioredis records for BullMQ's add (its script and keys).
const REDIS_TEXT = redisStatement('evalsha', ['4d7c5e0f6b1a2c3d4e5f60718293a4b5c6d7e8f9', '8', ...['wait', 'paused', 'meta', 'id', 'delayed', 'prioritized', 'completed', 'events'].map((k) => `bull:${QUEUE_THUMBNAIL}:${k}`), 'a', 'b', 'c']);

/** One S3 or Redis call without telemetry: the wait, with the control's work around it. */
async function plainCall(v: Variant): Promise<void> {
  if (v === 'control') work();
  await wait();
  if (v === 'control') work();
}

async function s3Call(v: Variant, op: S3Operation, key: string, extra: Record<string, string | number> = {}): Promise<void> {
  if (v !== 'telemetry') return plainCall(v);
  await traceAsync(
    s3SpanName(op),
    async (span) => {
      const started = performance.now();
      await wait();
      if (op === 'create_multipart_upload') span.setAttribute(S3_ATTR.uploadId, UPLOAD_ID);
      span.setAttribute(S3_ATTR.statusCode, 200);
      observe(s3Duration, { [S3_LABELS.operation]: op, [S3_LABELS.outcome]: 'success' }, (performance.now() - started) / 1000);
    },
    { [S3_ATTR.bucket]: BUCKET, [S3_ATTR.operation]: op, ...extra, [S3_ATTR.key]: key },
    { kind: SpanKind.CLIENT },
  );
}

async function enqueue(v: Variant, id: string): Promise<void> {
  if (v !== 'telemetry') return plainCall(v);
  await traceAsync(
    queueEnqueueSpanName(QUEUE_THUMBNAIL),
    async () => {
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      const redis = getTracer().startSpan('evalsha', {
        kind: SpanKind.CLIENT,
        attributes: { 'db.system.name': 'redis', 'db.operation.name': 'evalsha', 'db.query.text': REDIS_TEXT, 'server.address': '127.0.0.1', 'server.port': 6379 },
      });
      await context.with(trace.setSpan(context.active(), redis), wait);
      redis.end();
      addSpanEvent(EVENT_JOB_ENQUEUED, { [MESSAGING_ATTR.messageId]: id, [ATTR.videoId]: id });
    },
    { [MESSAGING_ATTR.system]: MESSAGING_SYSTEM, [MESSAGING_ATTR.operation]: 'send', [MESSAGING_ATTR.destination]: QUEUE_THUMBNAIL, [ATTR.videoId]: id },
    { kind: SpanKind.PRODUCER },
  );
}

async function upload(v: Variant, n: number): Promise<void> {
  const id = `0f8fad5b-d9cb-469f-a165-${String(n % 1e12).padStart(12, '0')}`;
  const key = `videos/${id}.mp4`;
  const tel = v === 'telemetry';
  const handler = async (span: Span | undefined): Promise<void> => {
    if (span) {
      span.setAttribute(ATTR.videoId, id);
      span.setAttribute(ATTR.uploadContentType, 'video/mp4');
      span.setAttribute(ATTR.uploadExtension, 'mp4');
      span.setAttribute(ATTR.format, 'mp4');
    } else if (v === 'control') work();
    await s3Call(v, 'create_multipart_upload', key);
    await s3Call(v, 'upload_part', key, { [S3_ATTR.uploadId]: UPLOAD_ID, [S3_ATTR.partNumber]: 1 });
    if (tel) addSpanEvent(EVENT_UPLOAD_PART, { [EVENT_ATTR.partNumber]: 1, [EVENT_ATTR.bytes]: BYTES, [EVENT_ATTR.totalBytes]: BYTES });
    await s3Call(v, 'complete_multipart_upload', key, { [S3_ATTR.uploadId]: UPLOAD_ID });
    if (span) {
      span.setAttribute(ATTR.uploadSize, BYTES);
      span.setAttribute(ATTR.size, BYTES);
      span.setAttribute(ATTR.uploadParts, 1);
    }
    await enqueue(v, id);
    if (tel) addSpanEvent(EVENT_UPLOAD_COMPLETED, { [EVENT_ATTR.totalBytes]: BYTES, [ATTR.uploadParts]: 1, [ATTR.videoId]: id });
  };
  if (!tel) {
    if (v === 'control') work();
    await handler(undefined);
    if (v === 'control') work();
    return;
  }
  // The SERVER span as instrumentFastify starts it for an upload (critical: always sampled).
  await serverSpan('POST', ROUTES.uploadStream, ROUTES.uploadStream, 201, () => traceAsync(SPAN_UPLOAD_STREAM, handler));
}

/** The sampled SERVER span as instrumentFastify starts and ends it, around `fn`. */
async function serverSpan(method: string, route: string, path: string, status: number, fn: () => Promise<void>): Promise<void> {
  const server = getTracer().startSpan(`${method} ${route}`, { kind: SpanKind.SERVER, attributes: { [ALWAYS_SAMPLED_HINT_ATTRIBUTE]: 1 } }, ROOT_CONTEXT);
  server.setAttributes({ 'http.request.method': method, 'http.route': route });
  server.setAttribute('url.path', path);
  server.setAttribute('url.scheme', 'http');
  server.setAttribute('user_agent.original', 'wrk/4.1.0');
  server.setAttribute('client.address', '127.0.0.1');
  await context.with(trace.setSpan(ROOT_CONTEXT, server), fn);
  server.setAttribute('http.response.status_code', status);
  server.end();
}

/** One request in SAMPLE_EVERY is sampled in the stream shape (the production profile's ratio). */
const SAMPLE_EVERY = Math.round(1 / SAMPLING_RATIO.production);
const RANGE = { start: 65_536, end: 131_071, size: 1_048_576 };
// The unsampled parent's ids (the service draws them from a pool; fixed ones cost nothing here).
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

async function stream(v: Variant, n: number): Promise<void> {
  const filename = `0f8fad5b-d9cb-469f-a165-${String(n % 1e12).padStart(12, '0')}.mp4`;
  const key = `videos/${filename}`;
  const tel = v === 'telemetry';
  const handler = (): Promise<void> =>
    traceAsync(
      SPAN_VIDEO_STREAM,
      async (span) => {
        span.setAttribute(ATTR.format, 'mp4');
        span.setAttribute(ATTR.delivery, 'stream');
        span.setAttribute(ATTR.hasSession, true);
        await s3Call(v, 'head_object', key);
        span.setAttribute(ATTR.size, RANGE.size);
        addSpanEvent(EVENT_VIDEO_ACCESS_CHECK, { [EVENT_ATTR.filename]: filename, [EVENT_ATTR.hasSession]: true, [EVENT_ATTR.outcome]: 'granted' });
        addSpanEvent(EVENT_VIDEO_RANGE_REQUEST, { [EVENT_ATTR.start]: RANGE.start, [EVENT_ATTR.end]: RANGE.end, [EVENT_ATTR.totalSize]: RANGE.size });
        await s3Call(v, 'get_object', key, { [S3_ATTR.range]: `bytes=${RANGE.start}-${RANGE.end}` });
        await wait(); // the body
      },
      { [ATTR.filename]: filename },
    );
  if (!tel) {
    if (v === 'control') work();
    await plainCall(v);
    await plainCall(v);
    await wait();
    if (v === 'control') work();
    return;
  }
  if (n % SAMPLE_EVERY !== 0) {
    // Unsampled: the non-recording parent the service's HTTP hook makes (its ids from a pool).
    const parent = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.NONE });
    await context.with(trace.setSpan(ROOT_CONTEXT, parent), handler);
    return;
  }
  await serverSpan('GET', ROUTES.videoStream, `/api/videos/${filename}`, 206, handler);
}

async function batch(v: Variant, traces: number): Promise<number> {
  const before = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < traces) await (SHAPE === 'stream' ? stream(v, next++) : upload(v, next++));
    }),
  );
  if (v === 'telemetry') await telemetry.forceFlush();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / traces;
}

console.log(
  `trace-cost: ${TRACES} ${SHAPE}-shaped traces per batch${SHAPE === 'stream' ? ` (1 in ${SAMPLE_EVERY} sampled)` : ''}, ${ROUNDS} rounds, ${CONCURRENCY} in flight, waits of ${DELAY > 0 ? `${DELAY} ms (setTimeout)` : '0 (setImmediate)'}; ` +
    `${WARMUP} warm-up traces per variant${WARMUP_BACK_TO_BACK ? ' (back to back)' : ''}; ${NO_EXPORT ? 'no span processor (spans built and ended, not encoded or exported); ' : ''}node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}`,
);
warming = true;
for (const v of VARIANTS) await batch(v, WARMUP);
warming = false;
const perTrace: Record<Variant, number[]> = { none: [], telemetry: [], control: [] };
for (let r = 0; r < ROUNDS; r++) {
  const rotated = [...VARIANTS.slice(r % VARIANTS.length), ...VARIANTS.slice(0, r % VARIANTS.length)];
  const order = r % 2 === 1 ? rotated.reverse() : rotated;
  for (const v of order) perTrace[v].push(await batch(v, TRACES));
  console.log(`round ${r + 1}: ${VARIANTS.map((v) => `${v} ${perTrace[v][r]!.toFixed(1)}`).join(', ')} µs CPU per trace`);
}
console.log('\n| variant | CPU µs per trace (mean) | added vs none [95 % CI] |\n|---|---|---|');
for (const v of VARIANTS) {
  const d = v === 'none' || !VARIANTS.includes('none') ? undefined : pairedDifference(perTrace.none, perTrace[v]);
  console.log(`| ${v} | ${mean(perTrace[v]).toFixed(1)} | ${formatDifference(d)} |`);
}
if (VARIANTS.includes('telemetry') && VARIANTS.includes('control')) {
  console.log(`\ntelemetry - control, paired by round: ${formatDifference(pairedDifference(perTrace.control, perTrace.telemetry))} µs per trace`);
}
await telemetry.shutdown();
// Every export was answered after its "x" was written; give the pipe a moment to deliver them.
await new Promise((resolve) => setTimeout(resolve, 200));
console.log(`export requests the sink received: ${exportsReceived}`);
sink.kill();
