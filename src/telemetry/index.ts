// What application code imports from the telemetry layer.
export { traceAsync, addSpanEvent, recordError, getTracer } from './trace.ts';
export { redactAttributes, redactString } from './redact.ts';
export { registry, histogram, counter, gauge, observe, setDefaultLabels } from './metrics.ts';
export { createLogger, traceFields } from './logger.ts';
export { startTelemetry, currentTelemetry, type TelemetryOptions, type TelemetryHandle } from './sdk.ts';
export { instrumentFastify, setRouteClass, getServerSpan, TRACE_EXPOSED_HEADERS, type InstrumentFastifyOptions } from './http-server.ts';
export { startMetricsServer, type MetricsServer } from './metrics-server.ts';
export { onShutdown } from './shutdown.ts';
export { createSampler, CriticalRouteSampler } from './sampler.ts';
