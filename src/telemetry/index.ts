// What application code imports from the telemetry layer.
export { traceAsync, addSpanEvent, recordError } from './trace.ts';
export { redactAttributes, redactString } from './redact.ts';
export { registry, histogram, counter, gauge, observe, setDefaultLabels } from './metrics.ts';
export { createLogger, traceFields } from './logger.ts';
