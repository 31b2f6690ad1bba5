// A local OTLP/HTTP receiver for the benchmark: accepts /v1/traces, /v1/logs and /v1/metrics,
// answers 200 at once and discards the payload, counting bytes and (for traces) spans, so the
// data check can tell a variant that is cheap because it exports nothing. Decodes just enough
// protobuf (ExportTraceServiceRequest → ResourceSpans → ScopeSpans → Span.kind) to count spans.
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';

export interface SinkCounts {
  traceRequests: number;
  traceBytes: number;
  spans: number;
  /** Spans of kind SERVER (one per traced HTTP request). */
  serverSpans: number;
  logBytes: number;
  metricBytes: number;
  /** Bodies that could not be decoded (a decoder bug must not pass for "no spans"). */
  decodeErrors: number;
}

const SPAN_KIND_SERVER = 2;

function varint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    const b = buf[pos++];
    if (b === undefined) throw new Error('truncated varint');
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [result, pos];
    mul *= 128;
  }
  throw new Error('varint too long');
}

/** Calls `onField(field, wireType, start, end, value)` for each field of the message in [start, end). */
function walk(buf: Uint8Array, start: number, end: number, onField: (field: number, wire: number, s: number, e: number, value: number) => void): void {
  let pos = start;
  while (pos < end) {
    const [key, p1] = varint(buf, pos);
    pos = p1;
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const [v, p2] = varint(buf, pos);
      onField(field, wire, pos, p2, v);
      pos = p2;
    } else if (wire === 1) {
      onField(field, wire, pos, pos + 8, 0);
      pos += 8;
    } else if (wire === 2) {
      const [len, p2] = varint(buf, pos);
      onField(field, wire, p2, p2 + len, len);
      pos = p2 + len;
    } else if (wire === 5) {
      onField(field, wire, pos, pos + 4, 0);
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  if (pos !== end) throw new Error('message overran its length');
}

/** Counts spans and SERVER spans in an OTLP protobuf ExportTraceServiceRequest. */
export function countSpansProtobuf(buf: Uint8Array): { spans: number; serverSpans: number } {
  let spans = 0;
  let serverSpans = 0;
  walk(buf, 0, buf.length, (f, w, s, e) => {
    if (f !== 1 || w !== 2) return; // resource_spans
    walk(buf, s, e, (f2, w2, s2, e2) => {
      if (f2 !== 2 || w2 !== 2) return; // scope_spans
      walk(buf, s2, e2, (f3, w3, s3, e3) => {
        if (f3 !== 2 || w3 !== 2) return; // spans
        spans++;
        walk(buf, s3, e3, (f4, w4, _s4, _e4, v) => {
          if (f4 === 6 && w4 === 0 && v === SPAN_KIND_SERVER) serverSpans++; // kind
        });
      });
    });
  });
  return { spans, serverSpans };
}

interface JsonTraces {
  resourceSpans?: { scopeSpans?: { spans?: { kind?: number | string }[] }[] }[];
}
function countSpansJson(text: string): { spans: number; serverSpans: number } {
  const body = JSON.parse(text) as JsonTraces;
  let spans = 0;
  let serverSpans = 0;
  for (const rs of body.resourceSpans ?? [])
    for (const ss of rs.scopeSpans ?? [])
      for (const sp of ss.spans ?? []) {
        spans++;
        if (sp.kind === SPAN_KIND_SERVER || sp.kind === 'SPAN_KIND_SERVER') serverSpans++;
      }
  return { spans, serverSpans };
}

export interface OtlpSink {
  url: string;
  port: number;
  counts: () => SinkCounts;
  close: () => Promise<void>;
}

export async function startOtlpSink(port = 0): Promise<OtlpSink> {
  const counts: SinkCounts = { traceRequests: 0, traceBytes: 0, spans: 0, serverSpans: 0, logBytes: 0, metricBytes: 0, decodeErrors: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      try {
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      } catch {
        counts.decodeErrors++;
      }
      const path = (req.url ?? '').split('?')[0];
      if (path === '/v1/traces') {
        counts.traceRequests++;
        counts.traceBytes += body.length;
        try {
          const c = (req.headers['content-type'] ?? '').includes('json') ? countSpansJson(body.toString('utf8')) : countSpansProtobuf(body);
          counts.spans += c.spans;
          counts.serverSpans += c.serverSpans;
        } catch {
          counts.decodeErrors++;
        }
      } else if (path === '/v1/logs') counts.logBytes += body.length;
      else if (path === '/v1/metrics') counts.metricBytes += body.length;
      // An empty protobuf Export*ServiceResponse: full success.
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' });
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const actual = addr && typeof addr === 'object' ? addr.port : port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    counts: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
