// The telemetry SDK bootstrap: one TracerProvider (sampler from sampler.ts, batch or simple
// processor, OTLP/HTTP protobuf export with health counters), one LoggerProvider (OTLP logs),
// AsyncLocalStorage context, W3C tracecontext propagation, and the Prometheus scrape endpoint.
// No OTel MeterProvider: prom-client is the one metrics path, so no metric is computed twice.
import { context, diag, logs, propagation, trace, type Tracer, type TracerOptions } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  SimpleLogRecordProcessor,
  type LogRecordExporter,
  type LogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import { SimpleSpanProcessor, TracerProvider, type Sampler, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { DEFAULT_ENVIRONMENT, LOG_BATCH, SPAN_BATCH, type DeploymentEnvironment } from '../signals/index.ts';
import { batchLimits, CountingBatchSpanProcessor, CountingSpanExporter, createOtlpLogExporter, createOtlpSpanExporter, createOtlpSpanProcessor } from './exporter.ts';
import { PooledIdGenerator } from './ids.ts';
import { setDefaultLabels } from './metrics.ts';
import { startMetricsServer, type MetricsServer } from './metrics-server.ts';
import { createSampler, isDeploymentEnvironment, rootRatioOf } from './sampler.ts';
import { bumpGeneration, telemetryState } from './state.ts';

/** What the SDK's tracers call per span start for otel.sdk.span.* (sdk-trace 3.x: TracerMetrics). */
interface SpanStartMetrics {
  startSpan(parent: unknown, decision: number): () => void;
}
const endNothing = (): void => {};
/** Records nothing, as the SDK's own TracerMetrics does here (see QuietTracerProvider). */
export const NO_SPAN_START_METRICS: SpanStartMetrics = { startSpan: () => endNothing };

/**
 * The SDK's TracerProvider without its self-metrics (`otel.sdk.span.started`, `otel.sdk.span.live`).
 * sdk-trace 3.x records them on every span start through the tracer's `_tracerMetrics`, building
 * two attribute objects (computed keys) and a closure per span even when, as here, no
 * meterProvider is given and its meter is a no-op. While the sampled path runs as Maglev code
 * (at 10 % sampling it still did after 100 000 requests) each of those literals is a V8 runtime
 * call: ~4.6k instructions per sampled span, ~0.4k per request at the production profile under
 * callgrind (docs/benchmarks.md, "Session 14"). This service has no OTel MeterProvider
 * (prom-client is its metrics path), so nothing is lost; every tracer the provider hands out
 * gets a TracerMetrics that does nothing. Tested: a tracer of a started SDK carries it (a renamed
 * SDK field fails that test rather than silently restoring the cost).
 */
class QuietTracerProvider extends TracerProvider {
  override getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    const tracer = super.getTracer(name, version, options) as Tracer & { _tracerMetrics?: SpanStartMetrics };
    if (tracer._tracerMetrics !== undefined && tracer._tracerMetrics !== NO_SPAN_START_METRICS) tracer._tracerMetrics = NO_SPAN_START_METRICS;
    return tracer;
  }
}

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion?: string;
  /** Default DEPLOYMENT_ENVIRONMENT, else development. Picks the sampling ratio. */
  environment?: DeploymentEnvironment;
  /** Default: OTLP/HTTP protobuf to OTEL_EXPORTER_OTLP_ENDPOINT (none when OTEL_TRACES_EXPORTER=none). */
  spanExporter?: SpanExporter | null;
  /** 'batch' (default; bounded queue, SPAN_BATCH limits) or 'simple' (tests: export on end). */
  spanProcessor?: 'batch' | 'simple';
  /** Default: OTLP/HTTP protobuf logs (none when OTEL_LOGS_EXPORTER=none); null: no log export. */
  logExporter?: LogRecordExporter | null;
  logProcessor?: 'batch' | 'simple';
  /** Overrides the sampler from sampler.ts (which already honours OTEL_TRACES_SAMPLER*). */
  sampler?: Sampler;
  /** Starts the Prometheus scrape endpoint on this port (0: a free port). */
  metricsPort?: number;
  metricsHost?: string;
  /** Environment to read OTEL_* variables from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface TelemetryHandle {
  readonly serviceName: string;
  readonly environment: DeploymentEnvironment;
  readonly sampler: Sampler;
  readonly tracerProvider: TracerProvider;
  readonly loggerProvider: LoggerProvider;
  readonly metricsServer: MetricsServer | undefined;
  forceFlush(): Promise<void>;
  /** Flushes, shuts the providers down and restores the OTel globals (another SDK may start after). */
  shutdown(): Promise<void>;
}

let current: TelemetryHandle | undefined;

/** The running SDK, if any. */
export function currentTelemetry(): TelemetryHandle | undefined {
  return current;
}

function buildResource(serviceName: string, serviceVersion: string, environment: string): Resource {
  return defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(
      resourceFromAttributes({
        'service.name': serviceName,
        'service.version': serviceVersion,
        'deployment.environment.name': environment,
      }),
    );
}

/**
 * Starts tracing and log export and installs the OTel globals. Idempotent: while an SDK is
 * running, further calls return the running handle.
 */
export async function startTelemetry(opts: TelemetryOptions): Promise<TelemetryHandle> {
  if (current) {
    if (current.serviceName !== opts.serviceName) diag.warn(`telemetry already started as ${current.serviceName}; ignoring ${opts.serviceName}`);
    return current;
  }
  const env = opts.env ?? process.env;
  const envName = env.DEPLOYMENT_ENVIRONMENT;
  const environment = opts.environment ?? (isDeploymentEnvironment(envName) ? envName : DEFAULT_ENVIRONMENT);
  const serviceVersion = opts.serviceVersion ?? env.OTEL_SERVICE_VERSION ?? env.npm_package_version ?? '0.1.0';
  const resource = buildResource(opts.serviceName, serviceVersion, environment);
  const sampler = opts.sampler ?? createSampler(environment, env);

  // Traces.
  // The default (OTLP protobuf, batched) encodes each span as it ends; a given exporter or the
  // simple processor (tests) goes through the stock processors.
  const otlpDefault = opts.spanExporter === undefined && env.OTEL_TRACES_EXPORTER !== 'none';
  const spanProcessors: SpanProcessor[] = [];
  const spanLimits = batchLimits('OTEL_BSP', SPAN_BATCH, env);
  if (otlpDefault && opts.spanProcessor !== 'simple') spanProcessors.push(createOtlpSpanProcessor({}, spanLimits));
  else {
    const rawExporter = opts.spanExporter ?? (otlpDefault ? createOtlpSpanExporter() : null);
    if (rawExporter) {
      const exporter = new CountingSpanExporter(rawExporter);
      spanProcessors.push(
        opts.spanProcessor === 'simple' ? new SimpleSpanProcessor({ exporter }) : new CountingBatchSpanProcessor({ exporter, ...spanLimits }),
      );
    }
  }
  const tracerProvider = new QuietTracerProvider({ resource, sampler, spanProcessors, idGenerator: new PooledIdGenerator() });

  // Logs (pino lines are bridged in logger.ts; winston by instrumentation-winston).
  const logExporter =
    opts.logExporter !== undefined ? opts.logExporter : env.OTEL_LOGS_EXPORTER === 'none' ? null : createOtlpLogExporter();
  const logProcessors: LogRecordProcessor[] = [];
  if (logExporter) {
    logProcessors.push(
      opts.logProcessor === 'simple'
        ? new SimpleLogRecordProcessor({ exporter: logExporter })
        : new BatchLogRecordProcessor({ exporter: logExporter, ...batchLimits('OTEL_BLRP', LOG_BATCH, env) }),
    );
  }
  const loggerProvider = new LoggerProvider({ resource, processors: logProcessors });

  // Globals. A previous SDK that was not shut down (tests) is replaced, not silently kept.
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.disable();
  trace.disable();
  propagation.disable();
  logs.disable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  logs.setGlobalLoggerProvider(loggerProvider);
  setDefaultLabels(opts.serviceName, environment);

  const metricsServer = opts.metricsPort !== undefined ? await startMetricsServer(opts.metricsPort, opts.metricsHost) : undefined;

  let stopped = false;
  const handle: TelemetryHandle = {
    serviceName: opts.serviceName,
    environment,
    sampler,
    tracerProvider,
    loggerProvider,
    metricsServer,
    async forceFlush() {
      await Promise.allSettled([tracerProvider.forceFlush(), loggerProvider.forceFlush()]);
    },
    async shutdown() {
      if (stopped) return;
      stopped = true;
      const results = await Promise.allSettled([tracerProvider.shutdown(), loggerProvider.shutdown(), metricsServer?.close()]);
      for (const r of results) if (r.status === 'rejected') diag.warn(`telemetry shutdown: ${String(r.reason)}`);
      if (current === handle) {
        current = undefined;
        trace.disable();
        logs.disable();
        propagation.disable();
        context.disable();
        bumpGeneration(false);
      }
    },
  };
  current = handle;
  bumpGeneration(true);
  telemetryState.rootRatio = rootRatioOf(sampler);
  diag.debug(`telemetry started: service=${opts.serviceName} environment=${environment} sampler=${sampler.toString()}`);
  return handle;
}
