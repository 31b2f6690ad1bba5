// Preloaded before the app: `node --import ./dist/telemetry/register.js dist/api/main.js`
// (or `--import ./src/telemetry/register.ts` from source under Node 24 type stripping).
//
// 1. OTEL_SDK_DISABLED=true: no telemetry is registered (no loader hook, no SDK, instrumentFastify
//    is a no-op): the uninstrumented baseline of the overhead comparisons. Only the graceful
//    SIGTERM/SIGINT handling stays, so both variants stop the same way.
// 2. OTEL_LOG_LEVEL drives the SDK's diagnostic logger (the plan's "debug logging in dev").
// 3. The ESM loader hook is registered BEFORE the app is imported, limited to the modules we
//    instrument, so only they pay the interception cost.
// 4. startTelemetry from the environment (OTEL_SERVICE_NAME, DEPLOYMENT_ENVIRONMENT, OTEL_*).
// 5. A deliberate list of instrumentations (not the auto-instrumentation bundle: fs, dns and net
//    cost much and tell little; node:http is replaced by our own Fastify hooks, http-server.ts).
// 6. SIGTERM/SIGINT: run the onShutdown hooks (servers, queues), flush telemetry, exit 0; a
//    process that ends on its own flushes on beforeExit.
import module from 'node:module';
import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { SocketIoInstrumentation } from '@opentelemetry/instrumentation-socket.io';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { WinstonInstrumentation } from '@opentelemetry/instrumentation-winston';
import { register as registerSyncHooks, supportsSyncHooks } from 'import-in-the-middle/register-hooks.mjs';
import { SERVICE_API } from '../signals/index.ts';
import { redisStatement } from './redis-statement.ts';
import { startTelemetry, type TelemetryHandle } from './sdk.ts';
import { runShutdownHooks } from './shutdown.ts';

/** Packages whose imports the loader hook intercepts (the ones instrumented below). */
export const HOOKED_MODULES = ['ioredis', 'pg', 'pg-pool', 'socket.io', 'winston'] as const;

function diagLevel(value: string | undefined): DiagLogLevel | undefined {
  switch (value?.trim().toUpperCase()) {
    case 'NONE':
      return DiagLogLevel.NONE;
    case 'ERROR':
      return DiagLogLevel.ERROR;
    case 'WARN':
      return DiagLogLevel.WARN;
    case 'INFO':
      return DiagLogLevel.INFO;
    case 'DEBUG':
      return DiagLogLevel.DEBUG;
    case 'VERBOSE':
      return DiagLogLevel.VERBOSE;
    case 'ALL':
      return DiagLogLevel.ALL;
    default:
      return undefined;
  }
}

/** The chosen instrumentations, each with why it is worth its cost. */
export function chosenInstrumentations(): Instrumentation[] {
  return [
    // fetch() is undici, not node:http: the CRM client and any outgoing fetch get client spans
    // and W3C propagation. Only inside a trace, so health checks and background polling stay quiet.
    new UndiciInstrumentation({ requireParentforSpans: true }),
    // Redis commands of the thumbnail queue. requireParentSpan: BullMQ polls Redis continuously
    // (BRPOPLPUSH / BZPOPMIN loops); without it every poll would start a root trace. Script calls
    // (every BullMQ operation) are recorded without their values: redis-statement.ts.
    new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: redisStatement }),
    // PostgreSQL (Prisma's pg driver adapter): query spans under the request or job that ran them.
    new PgInstrumentation({ requireParentSpan: true }),
    // Websocket events of the realtime channel (plan 1.7), which no HTTP hook sees.
    new SocketIoInstrumentation(),
    // An adopting app that logs with winston gets trace_id/span_id in every record inside a span.
    // Log sending needs @opentelemetry/winston-transport (not installed): correlation only. Our
    // own pino logger does both correlation and OTLP export itself (logger.ts), so the pino
    // instrumentation is deliberately NOT enabled: it would inject the same fields twice.
    new WinstonInstrumentation({ disableLogSending: true }),
  ];
}

let handle: TelemetryHandle | undefined;

/** SIGTERM/SIGINT: close hooks, flush and shut the SDK down, exit 0 (once). */
function installSignalHandlers(): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    diag.debug(`${signal}: shutting down`);
    const hardStop = setTimeout(() => process.exit(0), 10_000);
    hardStop.unref();
    void (async () => {
      await runShutdownHooks();
      await handle?.shutdown();
      process.exit(0);
    })();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

/** A process that ends on its own (script, CLI, worker drained) flushes too: pending spans are not lost. */
function flushOnNaturalExit(): void {
  process.once('beforeExit', () => {
    void handle?.shutdown();
  });
}

async function main(): Promise<void> {
  const env = process.env;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') {
    installSignalHandlers();
    return;
  }
  const level = diagLevel(env.OTEL_LOG_LEVEL);
  if (level !== undefined) diag.setLogger(new DiagConsoleLogger(), { logLevel: level });

  // The loader hook must be in place before the app (and the modules above) are imported.
  // Node >= 24.11.1 runs import-in-the-middle synchronously in-thread (module.registerHooks);
  // older runtimes fall back to the documented async hook.
  if (supportsSyncHooks()) registerSyncHooks({ include: [...HOOKED_MODULES] });
  else module.register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

  handle = await startTelemetry({ serviceName: env.OTEL_SERVICE_NAME ?? SERVICE_API });
  registerInstrumentations({ instrumentations: chosenInstrumentations() });
  installSignalHandlers();
  flushOnNaturalExit();
}

await main();
