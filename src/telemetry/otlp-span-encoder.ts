// OTLP/protobuf encoding of finished spans, one span at a time, as each one ends.
//
// The stock path (BatchSpanProcessor + ProtobufTraceSerializer) keeps every sampled span object
// alive in a queue until its batch is due, then encodes the whole batch in two passes (a size
// estimate, then the write) on the event loop: with 512 spans that is a pause of milliseconds,
// and the queued spans survive scavenges. Here each span is written into its batch's buffer
// when it ends (one pass, no per-id allocation) and can then be collected; a batch is only
// framed (resource, scopes) when it is sent.
//
// The bytes are the ones the stock serializer produces for the same spans (same fields, order
// and varint encoding: test/otlp-span-encoder.test.ts compares them byte for byte), so the
// receiving side cannot tell the difference.
import type { AttributeValue, Attributes, HrTime, SpanContext } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

type Scope = ReadableSpan['instrumentationScope'] & { attributes?: Attributes; droppedAttributesCount?: number };
type Resource = ReadableSpan['resource'];

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK = 0x100;
const SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK = 0x200;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** Hex digit values by character code (-1: not a hex digit). */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

/** Bytes of the varint of a length (lengths are below 2^32). */
function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

/**
 * A growable protobuf writer: nested lengths reserve one byte and move the body when longer.
 *
 * Strings are written by Node's native Buffer#write (UTF-8). While ioredis left String.prototype
 * in V8's dictionary mode (src/lib/fast-string-prototype.ts), a charCodeAt loop here cost a generic
 * property lookup per character (52 string writes took 134k instructions on a 100 %-sampled
 * stream request); with that fixed, loops are used where they beat a native call: hex ids
 * (`hexId`) and short ASCII attribute values (`writeSimpleKeyValue`). docs/benchmarks.md.
 */
export class ProtoBuffer {
  buf: Buffer;
  pos = 0;
  private view: DataView;

  constructor(size = 16 * 1024) {
    // Never a slice of Node's shared pool, so the bytes own their ArrayBuffer (the export thread
    // takes it by transfer when the request fills it, else copies the request's bytes), and not
    // zero-filled: only the bytes below `pos` are ever read, and every one of them is written.
    this.buf = Buffer.allocUnsafeSlow(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  varint(value: number): void {
    this.ensure(10);
    const b = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 127) {
        b[this.pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      b[this.pos++] = v;
      return;
    }
    // 64-bit two's complement, as the stock writer does it.
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / 4294967296) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / 4294967296) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 127) {
      b[this.pos++] = (low & 127) | 128;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    b[this.pos++] = low & 127;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** Starts a length-delimited body; returns the position of its length. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Ends the body begun at `at`: writes its length there, moving the body if it needs more bytes. */
  end(at: number): void {
    const len = this.pos - at - 1;
    const size = varintSize(len);
    if (size > 1) {
      this.ensure(size - 1);
      this.buf.copyWithin(at + size, at + 1, this.pos);
      this.pos += size - 1;
    }
    const b = this.buf;
    let v = len;
    let p = at;
    while (v > 127) {
      b[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    b[p] = v;
  }

  fixed32(value: number): void {
    this.ensure(4);
    const v = value >>> 0;
    const b = this.buf;
    b[this.pos++] = v & 255;
    b[this.pos++] = (v >>> 8) & 255;
    b[this.pos++] = (v >>> 16) & 255;
    b[this.pos++] = (v >>> 24) & 255;
  }

  fixed64(low: number, high: number): void {
    this.fixed32(low);
    this.fixed32(high);
  }

  double(value: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  /** HrTime as fixed64 nanoseconds (the stock arithmetic, no BigInt). */
  hrTime(t: HrTime): void {
    const seconds = t[0];
    const nanos = t[1];
    const lower16 = (seconds & 0xffff) * 1e9;
    const upper = ((seconds / 0x10000) >>> 0) * 1e9;
    const lowSum = (lower16 >>> 0) + (((upper & 0xffff) * 0x10000) >>> 0) + nanos;
    const high = Math.floor(lower16 / 4294967296) + ((upper / 0x10000) >>> 0) + Math.floor(lowSum / 4294967296);
    this.fixed64(lowSum >>> 0, high >>> 0);
  }

  /** A length-delimited string field body (UTF-8). */
  string(s: string): void {
    this.ensure(s.length * 3 + 5);
    const at = this.pos++;
    this.pos += this.buf.write(s, this.pos);
    this.end(at);
  }

  bytes(v: Uint8Array): void {
    this.varint(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /**
   * A hex id (trace or span id) as a bytes field body. A loop over a digit table: cheaper than
   * Buffer#write(…, 'hex') for 16 and 32 digits (scratch bench on a stream request's spans).
   */
  hexId(hex: string): void {
    const len = hex.length;
    const n = len >>> 1;
    this.varint(n);
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < len; i += 2) {
      const c1 = hex.charCodeAt(i);
      const c2 = hex.charCodeAt(i + 1);
      const hi = c1 < 128 ? HEX[c1]! : -1;
      const lo = c2 < 128 ? HEX[c2]! : -1;
      if ((hi | lo) < 0) throw new Error(`not a hex id: "${hex}"`);
      b[p++] = (hi << 4) | lo;
    }
    this.pos = p;
  }

  /** Appends raw bytes (a few by a loop: a native `set` call costs more than copying them). */
  raw(v: Uint8Array): void {
    const n = v.length;
    this.ensure(n);
    if (n > 64) {
      this.buf.set(v, this.pos);
      this.pos += n;
      return;
    }
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = v[i]!;
    this.pos = p;
  }
}

const NAME_CACHE_MAX = 1024;
const NAME_MAX_LENGTH = 128;
const nameBytes = new Map<string, Uint8Array>();

/**
 * The length-prefixed UTF-8 bytes of a name that repeats (attribute keys, span and event names:
 * low cardinality by OpenTelemetry's rules), kept so they are copied instead of encoded again.
 * Undefined for a name too long to keep or once NAME_CACHE_MAX names are kept.
 */
function cachedName(name: string): Uint8Array | undefined {
  let bytes = nameBytes.get(name);
  if (bytes === undefined) {
    if (name.length > NAME_MAX_LENGTH || nameBytes.size >= NAME_CACHE_MAX) return undefined;
    const k = new ProtoBuffer(name.length * 3 + 8);
    k.string(name);
    bytes = new Uint8Array(k.buf.buffer, k.buf.byteOffset, k.pos).slice();
    nameBytes.set(name, bytes);
  }
  return bytes;
}

/** A string field body for a name (see cachedName). */
function writeName(w: ProtoBuffer, name: string): void {
  const bytes = cachedName(name);
  if (bytes === undefined) {
    w.string(name);
    return;
  }
  w.raw(bytes);
}

function writeAnyValue(w: ProtoBuffer, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.tag(1, WIRE_LEN);
      w.string(value);
      return;
    case 'boolean':
      w.tag(2, WIRE_VARINT);
      w.varint(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        w.tag(3, WIRE_VARINT);
        w.varint(value);
      } else {
        w.tag(4, WIRE_FIXED64);
        w.double(value);
      }
      return;
    default:
      break;
  }
  if (value instanceof Uint8Array) {
    w.tag(7, WIRE_LEN);
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, WIRE_LEN);
    const arr = w.begin();
    for (const item of value) {
      w.tag(1, WIRE_LEN);
      const at = w.begin();
      writeAnyValue(w, item);
      w.end(at);
    }
    w.end(arr);
  } else if (typeof value === 'object' && value !== null) {
    w.tag(6, WIRE_LEN);
    const list = w.begin();
    const obj = value as Record<string, unknown>;
    for (const k in obj) {
      if (!Object.hasOwn(obj, k)) continue;
      w.tag(1, WIRE_LEN);
      const kv = w.begin();
      w.tag(1, WIRE_LEN);
      w.string(k);
      w.tag(2, WIRE_LEN);
      const at = w.begin();
      writeAnyValue(w, obj[k]);
      w.end(at);
      w.end(kv);
    }
    w.end(list);
  }
}

/**
 * One KeyValue `{1: key, 2: AnyValue}` with a cached key and a string, integer or boolean value
 * whose nested lengths each fit one byte (the common attribute), written in one pass with no
 * method call per field. Returns false, having written nothing, for anything else.
 */
function writeSimpleKeyValue(w: ProtoBuffer, fieldTag: number, keyBytes: Uint8Array, value: unknown): boolean {
  const kn = keyBytes.length;
  let vtag: number;
  if (typeof value === 'string') {
    if (value.length > 40) return false; // up to 120 UTF-8 bytes: every length below fits one byte
    vtag = 0x0a; // AnyValue.string_value, LEN
  } else if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) return false;
    vtag = 0x18; // AnyValue.int_value, VARINT
  } else if (typeof value === 'boolean') {
    vtag = 0x10; // AnyValue.bool_value, VARINT
  } else {
    return false;
  }
  w.ensure(kn + 128 + 8);
  const b = w.buf;
  const start = w.pos;
  let p = start + 2; // field tag, KeyValue length (filled in below)
  b[p++] = 0x0a; // KeyValue.key, LEN (keyBytes holds its length and bytes)
  for (let i = 0; i < kn; i++) b[p++] = keyBytes[i]!;
  b[p++] = 0x12; // KeyValue.value, LEN
  const anyAt = p++;
  b[p++] = vtag;
  if (vtag === 0x0a) {
    const lenAt = p++;
    const str = value as string;
    const len = str.length;
    // ASCII by a loop (a native Buffer#write call costs more than these few characters);
    // anything else by Buffer#write from the first character again.
    let i = 0;
    for (; i < len; i++) {
      const c = str.charCodeAt(i);
      if (c > 0x7f) break;
      b[p + i] = c;
    }
    const n = i === len ? len : b.write(str, p);
    p += n;
    b[lenAt] = n;
  } else {
    let v = vtag === 0x10 ? (value ? 1 : 0) : (value as number) >>> 0;
    while (v > 127) {
      b[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    b[p++] = v;
  }
  b[anyAt] = p - anyAt - 1;
  const kvLen = p - start - 2;
  if (kvLen > 127) return false; // a long key with a long value: the general path writes it
  b[start] = fieldTag;
  b[start + 1] = kvLen;
  w.pos = p;
  return true;
}

/** Repeated KeyValue `field` (an attribute whose value is undefined is written with an empty value, as the stock serializer does). */
function writeAttributes(w: ProtoBuffer, attributes: Attributes, field: number): void {
  const fieldTag = (field << 3) | WIRE_LEN; // fields 1-9: one byte
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    const value = attributes[key] as AttributeValue | undefined;
    const keyBytes = cachedName(key);
    if (keyBytes !== undefined && writeSimpleKeyValue(w, fieldTag, keyBytes, value)) continue;
    w.tag(field, WIRE_LEN);
    const kv = w.begin();
    w.tag(1, WIRE_LEN);
    if (keyBytes !== undefined) w.raw(keyBytes);
    else w.string(key);
    w.tag(2, WIRE_LEN);
    const at = w.begin();
    writeAnyValue(w, value);
    w.end(at);
    w.end(kv);
  }
}

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | (isRemote ? SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK : 0);
}

/** trace_id, span_id and trace_state: fields 1-3 of both Span and Span.Link. */
function writeContext(w: ProtoBuffer, ctx: SpanContext): void {
  w.tag(1, WIRE_LEN);
  w.hexId(ctx.traceId);
  w.tag(2, WIRE_LEN);
  w.hexId(ctx.spanId);
  const traceState = ctx.traceState?.serialize();
  if (traceState) {
    w.tag(3, WIRE_LEN);
    w.string(traceState);
  }
}

/** Appends `span` as field 2 (ScopeSpans.spans) of the scope buffer `w`. */
export function writeSpan(w: ProtoBuffer, span: ReadableSpan): void {
  w.tag(2, WIRE_LEN);
  const at = w.begin();
  const ctx = span.spanContext();
  writeContext(w, ctx);
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, WIRE_LEN);
    w.hexId(parent.spanId);
  }
  w.tag(5, WIRE_LEN);
  writeName(w, span.name);
  const kind = (span.kind as number | null | undefined) == null ? 0 : span.kind + 1;
  if (kind !== 0) {
    w.tag(6, WIRE_VARINT);
    w.varint(kind);
  }
  w.tag(7, WIRE_FIXED64);
  w.hrTime(span.startTime);
  w.tag(8, WIRE_FIXED64);
  w.hrTime(span.endTime);
  if (span.attributes) writeAttributes(w, span.attributes, 9);
  w.tag(10, WIRE_VARINT);
  w.varint(span.droppedAttributesCount);
  for (const event of span.events) {
    w.tag(11, WIRE_LEN);
    const ev = w.begin();
    w.tag(1, WIRE_FIXED64);
    w.hrTime(event.time);
    w.tag(2, WIRE_LEN);
    writeName(w, event.name);
    if (event.attributes) writeAttributes(w, event.attributes, 3);
    w.tag(4, WIRE_VARINT);
    w.varint(event.droppedAttributesCount || 0);
    w.end(ev);
  }
  w.tag(12, WIRE_VARINT);
  w.varint(span.droppedEventsCount);
  for (const link of span.links) {
    w.tag(13, WIRE_LEN);
    const lk = w.begin();
    const lc = link.context;
    writeContext(w, lc);
    if (link.attributes) writeAttributes(w, link.attributes, 4);
    w.tag(5, WIRE_VARINT);
    w.varint(link.droppedAttributesCount || 0);
    w.tag(6, WIRE_FIXED32);
    w.fixed32(spanFlags(lc.traceFlags, lc.isRemote));
    w.end(lk);
  }
  w.tag(14, WIRE_VARINT);
  w.varint(span.droppedLinksCount);
  w.tag(15, WIRE_LEN);
  const st = w.begin();
  if (span.status.message) {
    w.tag(2, WIRE_LEN);
    w.string(span.status.message);
  }
  w.tag(3, WIRE_VARINT);
  w.varint(span.status.code);
  w.end(st);
  w.tag(16, WIRE_FIXED32);
  w.fixed32(spanFlags(ctx.traceFlags, parent?.isRemote));
  w.end(at);
}

function writeScope(w: ProtoBuffer, scope: Scope): void {
  w.tag(1, WIRE_LEN);
  const at = w.begin();
  w.tag(1, WIRE_LEN);
  w.string(scope.name);
  if (scope.version) {
    w.tag(2, WIRE_LEN);
    w.string(scope.version);
  }
  if (scope.attributes) writeAttributes(w, scope.attributes, 3);
  if (scope.droppedAttributesCount) {
    w.tag(4, WIRE_VARINT);
    w.varint(scope.droppedAttributesCount);
  }
  w.end(at);
}

/**
 * Span buffers of finished batches, reused by the next ones: `finish` copies their bytes into
 * the request it returns, so a batch of 512 spans no longer grows a fresh buffer from 16 KiB
 * (allocation, zero-fill, copies) every time.
 */
const spareBuffers: ProtoBuffer[] = [];
const SPARE_BUFFERS = 4;
const SPARE_BUFFER_MAX_BYTES = 4 * 1024 * 1024;

function takeBuffer(): ProtoBuffer {
  const b = spareBuffers.pop();
  if (b === undefined) return new ProtoBuffer();
  b.pos = 0;
  return b;
}

function giveBack(b: ProtoBuffer): void {
  if (spareBuffers.length < SPARE_BUFFERS && b.buf.length <= SPARE_BUFFER_MAX_BYTES) spareBuffers.push(b);
}

class ScopeChunk {
  readonly scope: Scope;
  readonly spans = takeBuffer();
  constructor(scope: Scope) {
    this.scope = scope;
  }
}

/**
 * One batch being filled: spans are encoded as they are added, grouped by resource and
 * instrumentation scope in order of first appearance (as the stock serializer groups them).
 */
export class EncodedBatch {
  private readonly groups = new Map<Resource, Map<Scope, ScopeChunk>>();
  private lastResource: Resource | undefined;
  private lastScope: Scope | undefined;
  private lastChunk: ScopeChunk | undefined;
  private finished = false;
  count = 0;

  add(span: ReadableSpan): void {
    if (this.finished) throw new Error('this batch was already finished');
    const resource = span.resource;
    const scope = span.instrumentationScope as Scope;
    let chunk = this.lastChunk;
    if (chunk === undefined || scope !== this.lastScope || resource !== this.lastResource) {
      let scopes = this.groups.get(resource);
      if (!scopes) this.groups.set(resource, (scopes = new Map()));
      chunk = scopes.get(scope);
      if (!chunk) scopes.set(scope, (chunk = new ScopeChunk(scope)));
      this.lastResource = resource;
      this.lastScope = scope;
      this.lastChunk = chunk;
    }
    const before = chunk.spans.pos;
    try {
      writeSpan(chunk.spans, span);
    } catch (err) {
      chunk.spans.pos = before; // never leave half a span in the batch
      throw err;
    }
    this.count++;
  }

  /** The resources of this batch (for async resource attributes to settle before `finish`). */
  resources(): Resource[] {
    return [...this.groups.keys()];
  }

  /** The ExportTraceServiceRequest bytes of this batch. */
  finish(): Uint8Array {
    // Its span buffers go back to the pool below: a second call would read reused memory.
    if (this.finished) throw new Error('this batch was already finished');
    this.finished = true;
    let size = 0;
    for (const scopes of this.groups.values()) for (const c of scopes.values()) size += c.spans.pos + 256;
    const w = new ProtoBuffer(size + 4096);
    for (const [resource, scopes] of this.groups) {
      w.tag(1, WIRE_LEN);
      const rs = w.begin();
      w.tag(1, WIRE_LEN);
      const r = w.begin();
      if (resource.attributes) writeAttributes(w, resource.attributes, 1);
      w.tag(2, WIRE_VARINT);
      w.varint(0);
      w.end(r);
      for (const chunk of scopes.values()) {
        w.tag(2, WIRE_LEN);
        const ss = w.begin();
        writeScope(w, chunk.scope);
        w.raw(chunk.spans.buf.subarray(0, chunk.spans.pos));
        giveBack(chunk.spans);
        if (chunk.scope.schemaUrl) {
          w.tag(3, WIRE_LEN);
          w.string(chunk.scope.schemaUrl);
        }
        w.end(ss);
      }
      if (resource.schemaUrl) {
        w.tag(3, WIRE_LEN);
        w.string(resource.schemaUrl);
      }
      w.end(rs);
    }
    // A plain Uint8Array view: Buffer#slice shares memory, and a sink that copies with slice() must get a copy.
    return new Uint8Array(w.buf.buffer, w.buf.byteOffset, w.pos);
  }
}
