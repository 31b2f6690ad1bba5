// Messages between export-thread.ts (main thread) and export-thread-worker.ts (the export thread).
export type ExportSignal = 'TRACES' | 'LOGS';

/** The OTLP/HTTP path of each signal (appended to OTEL_EXPORTER_OTLP_ENDPOINT). */
export const RESOURCE_PATH: Readonly<Record<ExportSignal, string>> = { TRACES: 'v1/traces', LOGS: 'v1/logs' };

export type ExportThreadRequest =
  /** Creates the OTLP/HTTP delegate of one exporter (url and timeout as resolved on the main thread). */
  | { type: 'open'; channel: number; signal: ExportSignal; url: string; timeoutMillis: number }
  /** One serialized OTLP request; `bytes` is transferred, not copied. */
  | { type: 'export'; id: number; channel: number; bytes: ArrayBuffer; items: number }
  /** Flushes and shuts one exporter's delegate down; answered by a result with the same id. */
  | { type: 'close'; id: number; channel: number };

export type ExportThreadReply =
  | { type: 'result'; id: number; ok: boolean; error?: string | undefined }
  | { type: 'diag'; level: 'error' | 'warn' | 'info' | 'debug' | 'verbose'; message: string };
