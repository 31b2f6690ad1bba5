// The "stock" OpenTelemetry setup the benchmark compares against (for reference, issue 6): what
// the getting-started guides give you. NodeSDK with instrumentation-http and a
// BatchSpanProcessor exporting OTLP/protobuf to OTEL_EXPORTER_OTLP_ENDPOINT, AlwaysOn sampling
// unless OTEL_TRACES_SAMPLER* say otherwise, no metric or log exporters. The app's manual spans
// (traceAsync, S3 spans) still reach it through @opentelemetry/api.
//   node --import ./bench/stock-register.ts src/api/main.ts
import { register } from 'node:module';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';

// The ESM loader hook, so `node:http` imported by ESM code is patched too.
register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const sdk = new NodeSDK({
  spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
  instrumentations: [new HttpInstrumentation()],
  metricReaders: [],
  logRecordProcessors: [],
});
sdk.start();
// The app's own Fastify hooks (src/telemetry/http-server.ts) stand down when OTEL_SDK_DISABLED is
// true: set it only now, after NodeSDK started, so the stock variant measures instrumentation-http
// (plus the app's manual spans through @opentelemetry/api), not both HTTP instrumentations at once.
process.env.OTEL_SDK_DISABLED = 'true';

const stop = () => {
  sdk.shutdown().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
