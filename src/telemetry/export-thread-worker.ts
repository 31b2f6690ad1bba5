// The OTLP export thread (entry of the worker started by export-thread.ts). It receives
// already-serialized OTLP protobuf requests and sends them with the stock OTLP/HTTP export
// delegate of @opentelemetry/otlp-exporter-base (retries, timeouts, concurrency limit, gzip,
// headers and TLS from the OTEL_EXPORTER_OTLP_* environment), so the HTTP client runs in this
// isolate and not beside the service's HTTP server.
//
// Self-contained on purpose (package imports only): it runs as plain JavaScript after `tsc` and
// under Node's type stripping from source, and loads no telemetry bootstrap.
import { parentPort, type MessagePort } from 'node:worker_threads';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { ProtobufLogsSerializer, ProtobufTraceSerializer, type ISerializer } from '@opentelemetry/otlp-transformer';
import { RESOURCE_PATH, type ExportSignal, type ExportThreadReply, type ExportThreadRequest } from './export-thread-protocol.ts';

if (!parentPort) throw new Error('export-thread-worker.ts runs as a worker thread (started by export-thread.ts)');
const port: MessagePort = parentPort;

// SDK diagnostics of this thread (bad URL, partial success, retries) go to the main thread's diag
// logger, at the OTEL_LOG_LEVEL the bootstrap (register.ts) gives the main thread.
const level = DiagLogLevel[(process.env.OTEL_LOG_LEVEL ?? '').trim().toUpperCase() as keyof typeof DiagLogLevel] as DiagLogLevel | undefined;
if (level !== undefined && level !== DiagLogLevel.NONE) {
  const forward =
    (severity: 'error' | 'warn' | 'info' | 'debug' | 'verbose') =>
    (message: string, ...args: unknown[]): void => {
      const text = [message, ...args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a)))].join(' ');
      port.postMessage({ type: 'diag', level: severity, message: text } satisfies ExportThreadReply);
    };
  const logger: DiagLogger = { error: forward('error'), warn: forward('warn'), info: forward('info'), debug: forward('debug'), verbose: forward('verbose') };
  diag.setLogger(logger, { logLevel: level, suppressOverrideMessage: true });
}

/** One serialized request: the bytes to send and how many items (spans, log records) they hold. */
interface Payload {
  bytes: Uint8Array;
  items: number;
}

function bytesSerializer(signal: ExportSignal): ISerializer<Payload, unknown> {
  const responses = signal === 'TRACES' ? ProtobufTraceSerializer : ProtobufLogsSerializer;
  return {
    serializeRequest: (p) => p.bytes,
    deserializeResponse: (d) => responses.deserializeResponse(d),
  };
}

const channels = new Map<number, IOtlpExportDelegate<Payload>>();

function reply(r: ExportThreadReply): void {
  port.postMessage(r);
}

port.on('message', (m: ExportThreadRequest) => {
  switch (m.type) {
    case 'open': {
      const config = convertLegacyHttpOptions({ url: m.url, timeoutMillis: m.timeoutMillis }, m.signal, RESOURCE_PATH[m.signal], {
        'Content-Type': 'application/x-protobuf',
      });
      const component = m.signal === 'TRACES' ? 'otlp_http_span_exporter' : 'otlp_http_log_exporter';
      const helper = { name: m.signal === 'TRACES' ? ('span' as const) : ('log' as const), countItems: (p: Payload) => p.items };
      channels.set(m.channel, createOtlpHttpExportDelegate(config, bytesSerializer(m.signal), component, helper, undefined));
      return;
    }
    case 'export': {
      const delegate = channels.get(m.channel);
      if (!delegate) {
        reply({ type: 'result', id: m.id, ok: false, error: `export channel ${m.channel} is not open` });
        return;
      }
      delegate.export({ bytes: new Uint8Array(m.bytes), items: m.items }, (r) => {
        reply({ type: 'result', id: m.id, ok: r.code === 0, error: r.error?.message });
      });
      return;
    }
    case 'close': {
      const delegate = channels.get(m.channel);
      channels.delete(m.channel);
      void (delegate?.shutdown() ?? Promise.resolve()).then(
        () => reply({ type: 'result', id: m.id, ok: true }),
        (err: unknown) => reply({ type: 'result', id: m.id, ok: false, error: String(err) }),
      );
      return;
    }
  }
});
