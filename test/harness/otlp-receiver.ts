// A real local OTLP/HTTP receiver for tests: listens on 127.0.0.1, accepts protobuf (and gzip)
// POSTs on /v1/traces and /v1/logs, DECODES them (a small protobuf wire-format reader for the
// OTLP messages, field numbers from opentelemetry-proto) and keeps the results, so tests assert
// what was really exported. It can also refuse (5xx) or delay answers to simulate a sick collector.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type AnyValue = string | boolean | number | bigint | Uint8Array | AnyValue[] | { [key: string]: AnyValue } | null;
export type DecodedAttributes = Record<string, AnyValue>;

export interface DecodedEvent {
  name: string;
  timeUnixNano: bigint;
  attributes: DecodedAttributes;
}
export interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: DecodedAttributes;
  events: DecodedEvent[];
  status: { code: number; message: string };
  flags: number;
  scope: string;
  resource: DecodedAttributes;
}
export interface DecodedLogRecord {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber: number;
  severityText: string;
  body: AnyValue;
  attributes: DecodedAttributes;
  traceId: string;
  spanId: string;
  flags: number;
  scope: string;
  resource: DecodedAttributes;
}

// ---- protobuf wire format ------------------------------------------------------------------
class Reader {
  pos = 0;
  readonly buf: Uint8Array;
  readonly end: number;
  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.end = buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new Error('varint too long');
    }
  }
  fixed64(): bigint {
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getBigUint64(0, true);
    this.pos += 8;
    return v;
  }
  double(): number {
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }
  fixed32(): number {
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getUint32(0, true);
    this.pos += 4;
    return v;
  }
  bytes(): Uint8Array {
    const len = Number(this.varint());
    if (this.pos + len > this.end) throw new Error('truncated bytes');
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }
  /** Iterates fields: calls `on(field, wireType)`; the callback must consume the value or return false to skip it. */
  fields(on: (field: number, wire: number) => boolean): void {
    while (this.pos < this.end) {
      const tag = Number(this.varint());
      const field = tag >>> 3;
      const wire = tag & 7;
      if (!on(field, wire)) this.skip(wire);
    }
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

const text = new TextDecoder();
const str = (r: Reader): string => text.decode(r.bytes());
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sub = (r: Reader): Reader => new Reader(r.bytes());

function decodeAnyValue(r: Reader): AnyValue {
  let v: AnyValue = null;
  r.fields((f, w) => {
    if (f === 1 && w === 2) v = str(r);
    else if (f === 2 && w === 0) v = r.varint() !== 0n;
    else if (f === 3 && w === 0) {
      const n = BigInt.asIntN(64, r.varint());
      v = n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    } else if (f === 4 && w === 1) v = r.double();
    else if (f === 5 && w === 2) {
      const arr: AnyValue[] = [];
      const ar = sub(r);
      ar.fields((ff, ww) => (ff === 1 && ww === 2 ? (arr.push(decodeAnyValue(sub(ar))), true) : false));
      v = arr;
    } else if (f === 6 && w === 2) {
      const kv: DecodedAttributes = {};
      const kr = sub(r);
      kr.fields((ff, ww) => (ff === 1 && ww === 2 ? (decodeKeyValue(sub(kr), kv), true) : false));
      v = kv;
    } else if (f === 7 && w === 2) v = r.bytes();
    else return false;
    return true;
  });
  return v;
}

function decodeKeyValue(r: Reader, into: DecodedAttributes): void {
  let key = '';
  let value: AnyValue = null;
  r.fields((f, w) => {
    if (f === 1 && w === 2) key = str(r);
    else if (f === 2 && w === 2) value = decodeAnyValue(sub(r));
    else return false;
    return true;
  });
  into[key] = value;
}

function decodeResource(r: Reader): DecodedAttributes {
  const attrs: DecodedAttributes = {};
  r.fields((f, w) => (f === 1 && w === 2 ? (decodeKeyValue(sub(r), attrs), true) : false));
  return attrs;
}

function decodeScopeName(r: Reader): string {
  let name = '';
  r.fields((f, w) => (f === 1 && w === 2 ? ((name = str(r)), true) : false));
  return name;
}

function decodeEvent(r: Reader): DecodedEvent {
  const e: DecodedEvent = { name: '', timeUnixNano: 0n, attributes: {} };
  r.fields((f, w) => {
    if (f === 1 && w === 1) e.timeUnixNano = r.fixed64();
    else if (f === 2 && w === 2) e.name = str(r);
    else if (f === 3 && w === 2) decodeKeyValue(sub(r), e.attributes);
    else return false;
    return true;
  });
  return e;
}

function decodeSpan(r: Reader, scope: string, resource: DecodedAttributes): DecodedSpan {
  const s: DecodedSpan = {
    traceId: '', spanId: '', parentSpanId: '', traceState: '', name: '', kind: 0,
    startTimeUnixNano: 0n, endTimeUnixNano: 0n, attributes: {}, events: [], status: { code: 0, message: '' }, flags: 0, scope, resource,
  };
  r.fields((f, w) => {
    if (f === 1 && w === 2) s.traceId = hex(r.bytes());
    else if (f === 2 && w === 2) s.spanId = hex(r.bytes());
    else if (f === 3 && w === 2) s.traceState = str(r);
    else if (f === 4 && w === 2) s.parentSpanId = hex(r.bytes());
    else if (f === 5 && w === 2) s.name = str(r);
    else if (f === 6 && w === 0) s.kind = Number(r.varint());
    else if (f === 7 && w === 1) s.startTimeUnixNano = r.fixed64();
    else if (f === 8 && w === 1) s.endTimeUnixNano = r.fixed64();
    else if (f === 9 && w === 2) decodeKeyValue(sub(r), s.attributes);
    else if (f === 11 && w === 2) s.events.push(decodeEvent(sub(r)));
    else if (f === 15 && w === 2) {
      const st = sub(r);
      st.fields((ff, ww) => {
        if (ff === 2 && ww === 2) s.status.message = str(st);
        else if (ff === 3 && ww === 0) s.status.code = Number(st.varint());
        else return false;
        return true;
      });
    } else if (f === 16 && w === 5) s.flags = r.fixed32();
    else return false;
    return true;
  });
  return s;
}

/** Decodes an ExportTraceServiceRequest. */
export function decodeTraces(buf: Uint8Array): DecodedSpan[] {
  const out: DecodedSpan[] = [];
  const top = new Reader(buf);
  top.fields((f, w) => {
    if (f !== 1 || w !== 2) return false;
    const rsBytes = top.bytes();
    let resource: DecodedAttributes = {};
    const scopeSpans: Uint8Array[] = [];
    const rs = new Reader(rsBytes);
    rs.fields((ff, ww) => {
      if (ff === 1 && ww === 2) resource = decodeResource(sub(rs));
      else if (ff === 2 && ww === 2) scopeSpans.push(rs.bytes());
      else return false;
      return true;
    });
    for (const ssBytes of scopeSpans) {
      const ss = new Reader(ssBytes);
      let scope = '';
      const spans: Uint8Array[] = [];
      ss.fields((a, b) => {
        if (a === 1 && b === 2) scope = decodeScopeName(sub(ss));
        else if (a === 2 && b === 2) spans.push(ss.bytes());
        else return false;
        return true;
      });
      for (const sp of spans) out.push(decodeSpan(new Reader(sp), scope, resource));
    }
    return true;
  });
  return out;
}

function decodeLogRecord(r: Reader, scope: string, resource: DecodedAttributes): DecodedLogRecord {
  const l: DecodedLogRecord = {
    timeUnixNano: 0n, observedTimeUnixNano: 0n, severityNumber: 0, severityText: '', body: null, attributes: {},
    traceId: '', spanId: '', flags: 0, scope, resource,
  };
  r.fields((f, w) => {
    if (f === 1 && w === 1) l.timeUnixNano = r.fixed64();
    else if (f === 11 && w === 1) l.observedTimeUnixNano = r.fixed64();
    else if (f === 2 && w === 0) l.severityNumber = Number(r.varint());
    else if (f === 3 && w === 2) l.severityText = str(r);
    else if (f === 5 && w === 2) l.body = decodeAnyValue(sub(r));
    else if (f === 6 && w === 2) decodeKeyValue(sub(r), l.attributes);
    else if (f === 8 && w === 5) l.flags = r.fixed32();
    else if (f === 9 && w === 2) l.traceId = hex(r.bytes());
    else if (f === 10 && w === 2) l.spanId = hex(r.bytes());
    else return false;
    return true;
  });
  return l;
}

/** Decodes an ExportLogsServiceRequest. */
export function decodeLogs(buf: Uint8Array): DecodedLogRecord[] {
  const out: DecodedLogRecord[] = [];
  const top = new Reader(buf);
  top.fields((f, w) => {
    if (f !== 1 || w !== 2) return false;
    const rl = new Reader(top.bytes());
    let resource: DecodedAttributes = {};
    const scopeLogs: Uint8Array[] = [];
    rl.fields((ff, ww) => {
      if (ff === 1 && ww === 2) resource = decodeResource(sub(rl));
      else if (ff === 2 && ww === 2) scopeLogs.push(rl.bytes());
      else return false;
      return true;
    });
    for (const slBytes of scopeLogs) {
      const sl = new Reader(slBytes);
      let scope = '';
      const records: Uint8Array[] = [];
      sl.fields((a, b) => {
        if (a === 1 && b === 2) scope = decodeScopeName(sub(sl));
        else if (a === 2 && b === 2) records.push(sl.bytes());
        else return false;
        return true;
      });
      for (const rec of records) out.push(decodeLogRecord(new Reader(rec), scope, resource));
    }
    return true;
  });
  return out;
}

// ---- the receiver --------------------------------------------------------------------------
export interface OtlpReceiver {
  /** Base endpoint, e.g. http://127.0.0.1:43210 (set OTEL_EXPORTER_OTLP_ENDPOINT to it). */
  endpoint: string;
  port: number;
  spans: DecodedSpan[];
  logs: DecodedLogRecord[];
  /** Export requests received (including refused ones), by path; receivedAt is Date.now() when the body arrived. */
  requests: { path: string; bytes: number; status: number; receivedAt: number }[];
  /** Answer every request with this HTTP status (e.g. 503) until set back to 200. */
  setStatus(status: number): void;
  /** Delay every answer by this many milliseconds. */
  setDelay(ms: number): void;
  /** Resolves when `predicate` holds (polls every 25 ms), rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  reset(): void;
  stop(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Starts the receiver on 127.0.0.1 on a free port (or `port`). */
export function startOtlpReceiver(port = 0): Promise<OtlpReceiver> {
  let status = 200;
  let delay = 0;
  const spans: DecodedSpan[] = [];
  const logs: DecodedLogRecord[] = [];
  const requests: OtlpReceiver['requests'] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = req.url?.split('?')[0] ?? '';
      let raw = await readBody(req);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      requests.push({ path, bytes: raw.length, status, receivedAt: Date.now() });
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      if (status !== 200) {
        res.writeHead(status, { 'content-type': 'text/plain' }).end('refused by test\n');
        return;
      }
      if (req.method !== 'POST' || (path !== '/v1/traces' && path !== '/v1/logs')) {
        res.writeHead(404).end();
        return;
      }
      const ct = req.headers['content-type'] ?? '';
      if (!ct.includes('protobuf')) {
        res.writeHead(415, { 'content-type': 'text/plain' }).end('only application/x-protobuf\n');
        return;
      }
      try {
        if (path === '/v1/traces') spans.push(...decodeTraces(raw));
        else logs.push(...decodeLogs(raw));
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`decode failed: ${String(err)}\n`);
        return;
      }
      // An empty Export*ServiceResponse is zero bytes of protobuf.
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const actual = (server.address() as AddressInfo).port;
      resolve({
        endpoint: `http://127.0.0.1:${actual}`,
        port: actual,
        spans,
        logs,
        requests,
        setStatus: (s) => {
          status = s;
        },
        setDelay: (ms) => {
          delay = ms;
        },
        async waitFor(predicate, timeoutMs = 10_000, what = 'OTLP data') {
          const deadline = Date.now() + timeoutMs;
          while (!predicate()) {
            if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
            await new Promise((r) => setTimeout(r, 25));
          }
        },
        reset() {
          spans.length = 0;
          logs.length = 0;
          requests.length = 0;
        },
        stop: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
