// Structured JSON logs (pino). Every line written inside a span carries trace_id and span_id;
// secrets are redacted by path (headers) and by value (presigned URLs).
import { trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';
import { REDACTED_VALUE } from '../signals/index.ts';
import { redactString } from './redact.ts';

export function traceFields(): Record<string, string> {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx ? { trace_id: ctx.traceId, span_id: ctx.spanId, trace_flags: `0${ctx.traceFlags.toString(16)}` } : {};
}

export function createLogger(name: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name,
      level: process.env.LOG_LEVEL ?? 'info',
      mixin: traceFields,
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', '*.password', '*.secret'],
        censor: REDACTED_VALUE,
      },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        // Presigned URLs or bearer tokens inside messages are redacted by value.
        logMethod(args, method) {
          for (let i = 0; i < args.length; i++) {
            const a = args[i];
            if (typeof a === 'string') args[i] = redactString(a);
          }
          method.apply(this, args as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}
