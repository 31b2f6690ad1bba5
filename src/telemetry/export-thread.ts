// OTLP export on its own thread. The main thread only encodes (spans as they end:
// encoding-span-processor.ts; log batches with the stock serializer); the HTTP POST, retries and timeouts run in a worker thread
// (export-thread-worker.ts) with the stock OTLP/HTTP delegate.
//
// Why: the export's network I/O, retries and timeouts against a slow or failing collector stay
// off the event loop that serves requests. (One scratch benchmark run also suggested a CPU saving
// per request; three later runs did not confirm it: docs/benchmarks.md, "The export thread".)
//
// One worker per process serves every exporter (a channel each). It is started on the first
// export, keeps the process alive only while an export is pending (so a flush on exit completes
// and an idle process can still end), is restarted if it dies (its pending exports fail and are
// counted like any failed export), and stops when the last exporter shuts down.
import { Worker } from 'node:worker_threads';
import { diag } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { convertLegacyHttpOptions } from '@opentelemetry/otlp-exporter-base/node-http';
import type { ISerializer } from '@opentelemetry/otlp-transformer';
import { RESOURCE_PATH, type ExportSignal, type ExportThreadReply, type ExportThreadRequest } from './export-thread-protocol.ts';

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './export-thread-worker.ts' : './export-thread-worker.js', import.meta.url);

type OpenRequest = Extract<ExportThreadRequest, { type: 'open' }>;

interface Pending {
  worker: Worker;
  resolve: (r: ExportResult) => void;
}

class ExportThread {
  private worker: Worker | undefined;
  /** Channels opened in the current worker (a restarted worker opens them again). */
  private opened = new Set<number>();
  private readonly channels = new Map<number, OpenRequest>();
  private readonly pending = new Map<number, Pending>();
  private nextChannel = 1;
  private nextId = 1;

  open(signal: ExportSignal, url: string, timeoutMillis: number): number {
    const channel = this.nextChannel++;
    this.channels.set(channel, { type: 'open', channel, signal, url, timeoutMillis });
    return channel;
  }

  send(channel: number, bytes: Uint8Array, items: number): Promise<ExportResult> {
    const w = this.ensureWorker();
    if (!this.opened.has(channel)) {
      const open = this.channels.get(channel);
      if (!open) return Promise.resolve({ code: ExportResultCode.FAILED, error: new Error(`export channel ${channel} is closed`) });
      w.postMessage(open satisfies ExportThreadRequest);
      this.opened.add(channel);
    }
    // Transfer the serialized bytes (no copy) when they own their whole buffer.
    const buffer = (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer;
    const id = this.nextId++;
    const result = this.track(w, id);
    w.postMessage({ type: 'export', id, channel, bytes: buffer, items } satisfies ExportThreadRequest, [buffer]);
    return result;
  }

  /** Flushes and closes a channel in the worker; stops the worker when no channel is left. */
  async close(channel: number, timeoutMillis: number): Promise<void> {
    this.channels.delete(channel);
    const w = this.worker;
    if (w && this.opened.has(channel)) {
      this.opened.delete(channel);
      const id = this.nextId++;
      const done = this.track(w, id);
      w.postMessage({ type: 'close', id, channel } satisfies ExportThreadRequest);
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        done,
        new Promise<ExportResult>((resolve) => {
          timer = setTimeout(() => resolve({ code: ExportResultCode.FAILED, error: new Error(`export thread did not close within ${timeoutMillis} ms`) }), timeoutMillis);
        }),
      ]);
      clearTimeout(timer);
      if (r.code !== ExportResultCode.SUCCESS) diag.warn(`OTLP export thread: ${r.error?.message ?? 'close failed'}`);
    }
    if (this.channels.size === 0 && this.worker === w && w) {
      this.worker = undefined;
      this.opened.clear();
      this.failPending(w, new Error('export thread stopped'));
      await w.terminate();
    }
  }

  private track(w: Worker, id: number): Promise<ExportResult> {
    return new Promise<ExportResult>((resolve) => {
      if (this.pending.size === 0) w.ref();
      this.pending.set(id, { worker: w, resolve });
    });
  }

  private settle(id: number, result: ExportResult): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (this.pending.size === 0) p.worker.unref();
    p.resolve(result);
  }

  private failPending(w: Worker, error: Error): void {
    for (const [id, p] of this.pending) if (p.worker === w) this.settle(id, { code: ExportResultCode.FAILED, error });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    // No inherited flags: a preload (--import register.ts) would start a second SDK in the worker,
    // and process-level flags (--input-type, --eval) are refused there.
    const w = new Worker(WORKER_URL, { execArgv: [], name: 'otlp-export' });
    w.unref();
    let crash: Error | undefined;
    w.on('message', (m: ExportThreadReply) => {
      if (m.type === 'result') {
        this.settle(m.id, m.ok ? { code: ExportResultCode.SUCCESS } : { code: ExportResultCode.FAILED, error: new Error(m.error ?? 'export failed') });
      } else {
        diag[m.level](`OTLP export thread: ${m.message}`);
      }
    });
    w.on('error', (err) => {
      crash = err;
      diag.warn(`OTLP export thread failed: ${err.message}`);
    });
    w.on('exit', (code) => {
      if (this.worker === w) {
        this.worker = undefined;
        this.opened.clear();
      }
      this.failPending(w, crash ?? new Error(`export thread exited with code ${code}`));
    });
    this.worker = w;
    this.opened.clear();
    return w;
  }
}

/** The process's export thread manager (one worker serves every exporter). */
export const exportThread = new ExportThread();

export interface ThreadedExporterOptions {
  /** Full signal URL; default from OTEL_EXPORTER_OTLP_{SIGNAL}_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT. */
  url?: string;
  timeoutMillis?: number;
}

/**
 * An OTLP/HTTP protobuf exporter (spans or log records) whose transport runs on the export thread.
 * Same configuration as the stock exporters: url and timeout resolved here from the options and
 * the environment; headers, compression and TLS read by the stock delegate in the worker.
 */
export class ThreadedOtlpExporter<T> {
  private readonly serializer: ISerializer<T[], unknown>;
  private readonly onBytes: ((n: number) => void) | undefined;
  private readonly channel: number;
  private readonly timeoutMillis: number;
  private readonly inflight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(signal: ExportSignal, serializer: ISerializer<T[], unknown>, options: ThreadedExporterOptions = {}, onBytes?: (n: number) => void) {
    this.serializer = serializer;
    this.onBytes = onBytes;
    const config = convertLegacyHttpOptions(options, signal, RESOURCE_PATH[signal], {});
    this.timeoutMillis = config.timeoutMillis;
    this.channel = exportThread.open(signal, config.url, config.timeoutMillis);
  }

  export(items: T[], resultCallback: (result: ExportResult) => void): void {
    if (this.closed) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('exporter is shut down') });
      return;
    }
    const bytes = this.serializer.serializeRequest(items);
    if (!bytes) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('Nothing to send') });
      return;
    }
    this.onBytes?.(bytes.byteLength);
    this.exportEncoded(bytes, items.length, resultCallback);
  }

  /** Sends an already-encoded OTLP request holding `items` items (encoding-span-processor.ts). */
  exportEncoded(bytes: Uint8Array, items: number, resultCallback: (result: ExportResult) => void): void {
    if (this.closed) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('exporter is shut down') });
      return;
    }
    const p = exportThread
      .send(this.channel, bytes, items)
      .then(resultCallback)
      .catch((err: unknown) => diag.warn(`OTLP export result handler failed: ${String(err)}`))
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  async forceFlush(): Promise<void> {
    await Promise.all([...this.inflight]);
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.forceFlush();
    await exportThread.close(this.channel, this.timeoutMillis);
  }
}
