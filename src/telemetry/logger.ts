// Structured JSON logs (pino). Every line written inside a span carries trace_id and span_id;
// secrets are redacted by path (headers) and by value (presigned URLs, bearer tokens). While
// an SDK is running, each line is also emitted as an OTel log record (exported by OTLP with the
// active trace context) straight from pino's logMethod hook: no second JSON parse, no extra
// stream, and nothing at all for levels that are disabled.
import { format } from 'node:util';
import { logs, SeverityNumber, trace, type AnyValue, type Logger as OtelLogger } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';
import { REDACTED_VALUE } from '../signals/index.ts';
import { isSecretKey, redactString } from './redact.ts';
import { telemetryState } from './state.ts';

export function traceFields(): Record<string, string> {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx ? { trace_id: ctx.traceId, span_id: ctx.spanId, trace_flags: `0${ctx.traceFlags.toString(16)}` } : {};
}

const SEVERITY: Record<number, [SeverityNumber, string]> = {
  10: [SeverityNumber.TRACE, 'TRACE'],
  20: [SeverityNumber.DEBUG, 'DEBUG'],
  30: [SeverityNumber.INFO, 'INFO'],
  40: [SeverityNumber.WARN, 'WARN'],
  50: [SeverityNumber.ERROR, 'ERROR'],
  60: [SeverityNumber.FATAL, 'FATAL'],
};

/** Shallow, redacted copy of a log call's merge object as OTel attributes. */
type AnyValueMap = Record<string, AnyValue>;

function toAttributes(obj: Record<string, unknown>): AnyValueMap {
  const out: AnyValueMap = {};
  for (const key in obj) {
    const v = obj[key];
    if (v === undefined || typeof v === 'function') continue;
    if (isSecretKey(key)) out[key] = REDACTED_VALUE;
    else if (typeof v === 'string') out[key] = redactString(v);
    else if (typeof v === 'number' || typeof v === 'boolean') out[key] = v;
    else if (v instanceof Error) {
      out['exception.type'] = v.name;
      out['exception.message'] = redactString(v.message);
      if (v.stack) out['exception.stacktrace'] = redactString(v.stack);
    } else {
      try {
        out[key] = redactString(JSON.stringify(Array.isArray(v) ? v : redactObject(v as Record<string, unknown>)));
      } catch {
        out[key] = '[unserializable]';
      }
    }
  }
  return out;
}

/** Redacts secret-looking strings in a log call's fields (nested up to 3 levels); same object when clean. */
export function redactObject(obj: Record<string, unknown>, depth = 0): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in obj) {
    const v = obj[key];
    let r: unknown = v;
    if (typeof v === 'string') r = isSecretKey(key) ? REDACTED_VALUE : redactString(v);
    else if (v !== null && typeof v === 'object' && depth < 3 && !Array.isArray(v) && !(v instanceof Error)) r = redactObject(v as Record<string, unknown>, depth + 1);
    if (r !== v) {
      out ??= { ...obj };
      out[key] = r;
    }
  }
  return out ?? obj;
}

class OtelBridge {
  private readonly name: string;
  private logger: OtelLogger | undefined;
  private generation = -1;

  constructor(name: string) {
    this.name = name;
  }

  emit(args: unknown[], level: number): void {
    if (this.generation !== telemetryState.generation) {
      this.logger = logs.getLogger(this.name);
      this.generation = telemetryState.generation;
    }
    let attributes: AnyValueMap | undefined;
    let i = 0;
    const first = args[0];
    if (first !== null && typeof first === 'object') {
      attributes = toAttributes(first as Record<string, unknown>);
      i = 1;
    }
    const rest = args.slice(i);
    const body = rest.length === 0 ? '' : rest.length === 1 ? String(rest[0]) : format(...rest);
    const sev = SEVERITY[level] ?? [SeverityNumber.UNSPECIFIED, String(level)];
    // Without an explicit context the SDK uses the active one: trace_id/span_id of the current span.
    this.logger!.emit({ severityNumber: sev[0], severityText: sev[1], body: redactString(body), attributes });
  }
}

export function createLogger(name: string, destination?: pino.DestinationStream): Logger {
  const bridge = new OtelBridge(name);
  return pino(
    {
      name,
      level: process.env.LOG_LEVEL ?? 'info',
      mixin: traceFields,
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', '*.password', '*.secret'],
        censor: REDACTED_VALUE,
      },
      formatters: {
        level: (label) => ({ level: label }),
        // Presigned URLs and tokens inside logged fields are redacted by value too.
        log: redactObject,
      },
      hooks: {
        // Presigned URLs or bearer tokens inside messages are redacted by value.
        logMethod(args, method, level) {
          for (let i = 0; i < args.length; i++) {
            const a = args[i];
            if (typeof a === 'string') args[i] = redactString(a);
          }
          if (telemetryState.enabled) bridge.emit(args, level);
          method.apply(this, args as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}
