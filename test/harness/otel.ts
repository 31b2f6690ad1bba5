// In-memory telemetry for tests: the real SDK (startTelemetry: our sampler, context manager,
// propagation, log bridge) with in-memory exporters and simple processors, so a test asserts the
// spans and log records the service really produces, synchronously after each request.
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { InMemoryLogRecordExporter } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, type ReadableSpan, type Sampler } from '@opentelemetry/sdk-trace';
import type { DeploymentEnvironment } from '../../src/signals/index.ts';
import { startTelemetry, type TelemetryHandle } from '../../src/telemetry/sdk.ts';

export interface TestTelemetry {
  handle: TelemetryHandle;
  /** Finished, exported spans (in end order). */
  spans(): ReadableSpan[];
  /** Spans with this name. */
  spansNamed(name: string): ReadableSpan[];
  /** Emitted log records. */
  logs(): ReadableLogRecord[];
  /** Forgets what was captured so far. */
  reset(): void;
  /** Shuts the SDK down and restores the OTel globals. */
  shutdown(): Promise<void>;
}

export interface TestTelemetryOptions {
  environment?: DeploymentEnvironment;
  sampler?: Sampler;
  /** Environment for OTEL_TRACES_SAMPLER* (default: only the environment's ratio, no overrides). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts the SDK for `serviceName` with in-memory exporters. Default environment is
 * development (sampling ratio 1), so every span is captured.
 */
export async function startTestTelemetry(serviceName: string, opts: TestTelemetryOptions = {}): Promise<TestTelemetry> {
  const spanExporter = new InMemorySpanExporter();
  const logExporter = new InMemoryLogRecordExporter();
  const handle = await startTelemetry({
    serviceName,
    environment: opts.environment ?? 'development',
    spanExporter,
    spanProcessor: 'simple',
    logExporter,
    logProcessor: 'simple',
    ...(opts.sampler ? { sampler: opts.sampler } : {}),
    env: opts.env ?? {},
  });
  return {
    handle,
    spans: () => spanExporter.getFinishedSpans(),
    spansNamed: (name) => spanExporter.getFinishedSpans().filter((s) => s.name === name),
    logs: () => logExporter.getFinishedLogRecords(),
    reset: () => {
      spanExporter.reset();
      logExporter.reset();
    },
    shutdown: () => handle.shutdown(),
  };
}

/**
 * Scopes span assertions to the trace of the last response: `call` fetches and remembers the
 * trace id from the response's traceresponse header (`remember` does it for other clients);
 * `mine`/`named` return only that trace's spans (all spans before any response). `reset` forgets
 * spans and trace id (call it in beforeEach). `tel` is a getter: the SDK starts in beforeAll.
 */
export function lastResponseTrace(tel: () => TestTelemetry): {
  reset(): void;
  remember(traceresponse: string | null | undefined): void;
  call(url: string, init?: RequestInit): Promise<Response>;
  mine(): ReadableSpan[];
  named(name: string): ReadableSpan[];
} {
  let current: string | undefined;
  const remember = (traceresponse: string | null | undefined): void => {
    current = traceresponse?.split('-')[1];
  };
  const mine = (): ReadableSpan[] => tel().spans().filter((s) => current === undefined || s.spanContext().traceId === current);
  return {
    reset() {
      tel().reset();
      current = undefined;
    },
    remember,
    async call(url, init) {
      const res = await fetch(url, init);
      remember(res.headers.get('traceresponse'));
      return res;
    },
    mine,
    named: (name) => mine().filter((s) => s.name === name),
  };
}
