// The floor of the OpenTelemetry SDK itself: CPU µs per sampled SERVER span with the attributes
// our HTTP hook sets, through the same SDK set-up as the service (startTelemetry: batch processor,
// OTLP/HTTP protobuf exporter) to a sink in another process, without any HTTP server around it.
// No per-request instrumentation can cost less than this at 100 % sampling.
//
//   node bench/span-floor.ts [--spans 100000] [--no-export | --stock]
//
// --no-export measures span creation, attributes and end only (no exporter configured).
// --stock sends through the stock path instead of ours: the SDK's BatchSpanProcessor and the
// stock protobuf serializer (a whole batch at a time), same limits, same export thread.
import { spawn } from 'node:child_process';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { SERVICE_API } from '../src/signals/index.ts';
import { createOtlpSpanExporter } from '../src/telemetry/exporter.ts';
import { startTelemetry } from '../src/telemetry/sdk.ts';
import { cliOptions, exitWithUsageIfAsked } from './cli.ts';

const argv = process.argv.slice(2);
const USAGE = `usage: node bench/span-floor.ts [options]
  --spans N                    spans per batch (default 100000, at least 1000)
  --no-export                  no exporter: span creation, attributes and end only
  --stock                      the SDK's BatchSpanProcessor and the stock serializer instead of ours`;
exitWithUsageIfAsked(argv, USAGE);
const cli = cliOptions(argv, { values: ['--spans'], flags: ['--no-export', '--stock'], usage: USAGE });
const SPANS = Number(cli.val('--spans') ?? 100_000);
if (!Number.isInteger(SPANS) || SPANS < 1000) throw new Error('--spans must be an integer >= 1000');
const exporting = !argv.includes('--no-export');
const stock = argv.includes('--stock');
if (stock && !exporting) throw new Error('--stock and --no-export exclude each other');

// An OTLP sink in its own process: accepts and discards (its CPU is not ours).
const sink = spawn(
  process.execPath,
  ['-e', `require('http').createServer((q,s)=>{q.resume();q.on('end',()=>s.writeHead(200,{'content-type':'application/x-protobuf'}).end())}).listen(0,'127.0.0.1',function(){console.log(this.address().port)})`],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const sinkPort = await new Promise<number>((resolve) => sink.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));

// The exporter reads its endpoint from the process environment.
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${sinkPort}`;
const telemetry = await startTelemetry({
  serviceName: SERVICE_API,
  environment: 'production',
  env: { OTEL_TRACES_SAMPLER_ARG: '1', ...(exporting ? {} : { OTEL_TRACES_EXPORTER: 'none' }) },
  logExporter: null,
  ...(stock ? { spanExporter: createOtlpSpanExporter() } : {}),
});
const tracer = trace.getTracer('span-floor');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` spans in slices of 500, yielding between slices so the batch processor exports. */
async function run(n: number): Promise<void> {
  for (let done = 0; done < n; done += 500) {
    for (let j = 0; j < 500; j++) {
      const span = tracer.startSpan('GET /healthz', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
      span.setAttributes({ 'http.request.method': 'GET', 'http.route': '/healthz' });
      span.setAttribute('url.path', '/healthz');
      span.setAttribute('url.scheme', 'http');
      span.setAttribute('user_agent.original', 'wrk');
      span.setAttribute('client.address', '127.0.0.1');
      span.setAttribute('http.response.status_code', 200);
      span.end();
    }
    await sleep(0);
  }
  await telemetry.forceFlush();
}

await run(20_000); // warm-up (JIT)
const before = process.cpuUsage();
await run(SPANS);
const used = process.cpuUsage(before);
console.log(
  `${SPANS} spans, ${!exporting ? 'not exported' : stock ? 'exported (OTLP/protobuf, stock batch processor and serializer)' : 'exported (OTLP/protobuf, encoded as they end)'}: ${((used.user + used.system) / SPANS).toFixed(2)} µs CPU per span ` +
    `(user ${(used.user / SPANS).toFixed(2)}, system ${(used.system / SPANS).toFixed(2)}); node ${process.version}`,
);
await telemetry.shutdown();
sink.kill();
