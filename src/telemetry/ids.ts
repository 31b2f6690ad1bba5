// Random W3C trace and span ids from pools: one CSPRNG read and one hex conversion per POOL_IDS
// ids, each id a slice of that string (perf showed ~0.75 µs of per-id hex conversion per request
// before; the SDK's RandomIdGenerator converts every id with Buffer#toString).
// PooledIdGenerator is the TracerProvider's id generator (sdk.ts); unsampled root requests take
// their ids, with the two response header values that carry them, from rootContexts
// (http-server.ts). Both draw from node:crypto's CSPRNG.
import { randomBytes, randomFillSync } from 'node:crypto';
import type { IdGenerator } from '@opentelemetry/sdk-trace';

// Small enough for the pool's string to be born and die in the young generation. Each id is a
// slice that keeps its pool string alive; with 4096 ids the trace-id string (128 KiB) went
// straight to V8's large-object space, the old generation grew ~0.7 MB/s under load even with
// nothing sampled, and full collections followed (npm run bench:gc, 30 s per variant: 0.75 MB/s
// before, 0.03 MB/s with 256 ids, as the baseline; docs/benchmarks.md).
const POOL_IDS = 256;
const ZERO_DIGIT = 0x30;
/** W3C id sizes. */
const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;

class HexPool {
  private hex = '';
  private offset = 0;
  private readonly width: number;
  private readonly invalid: string;

  constructor(bytes: number) {
    this.width = bytes * 2;
    this.invalid = '0'.repeat(this.width);
  }

  next(): string {
    for (;;) {
      if (this.offset === this.hex.length) {
        this.hex = randomBytes(POOL_IDS * (this.width / 2)).toString('hex');
        this.offset = 0;
      }
      const id = this.hex.slice(this.offset, this.offset + this.width);
      this.offset += this.width;
      // All zeros is the invalid id (W3C): draw again. The first digit decides 15 times in 16
      // without comparing a sliced string (a runtime call in V8).
      if (id.charCodeAt(0) !== ZERO_DIGIT || id !== this.invalid) return id;
    }
  }
}

const traceIds = new HexPool(TRACE_ID_BYTES);
const spanIds = new HexPool(SPAN_ID_BYTES);

/** `Server-Timing` value that carries a W3C traceparent (docs/frontend-correlation.md). */
const SERVER_TIMING_PREFIX = 'traceparent;desc="';
const SERVER_TIMING_SUFFIX = '"';

/** The `Server-Timing` value for a traceparent. */
export function serverTimingValue(traceparent: string): string {
  return SERVER_TIMING_PREFIX + traceparent + SERVER_TIMING_SUFFIX;
}

/**
 * Trace context of unsampled root requests (fresh ids, flags 00) and their two response header
 * values, all slices of one pooled string of `Server-Timing` values. Node checks every response
 * header value with a regular expression, and a value built by concatenation is a V8 cons string
 * that the runtime has to flatten first; a slice of a flat string is checked as it is. The pool
 * is written as bytes into a template (two hex digits per store) and decoded once per refill
 * (~50 ns per request on this machine).
 * Call next(), then read the fields; they hold until the next call.
 */
export class RootContextPool {
  traceId = '';
  spanId = '';
  traceparent = '';
  serverTiming = '';
  private pool = '';
  private offset = 0;
  private readonly random = Buffer.allocUnsafe(POOL_IDS * (TRACE_ID_BYTES + SPAN_ID_BYTES));
  private readonly text = Buffer.from(serverTimingValue(`00-${'0'.repeat(2 * TRACE_ID_BYTES)}-${'0'.repeat(2 * SPAN_ID_BYTES)}-00`).repeat(POOL_IDS), 'latin1');
  /** Writes two hex digits per store (unaligned, little-endian: the first digit in the low byte). */
  private readonly view = new DataView(this.text.buffer, this.text.byteOffset, this.text.byteLength);
  private readonly fill: typeof randomFillSync;

  /** `fill` draws the random bytes (tests pass their own). */
  constructor(fill: typeof randomFillSync = randomFillSync) {
    this.fill = fill;
  }

  next(): void {
    if (this.offset === this.pool.length) this.refill();
    const at = this.offset;
    this.offset += ROOT_ENTRY_LENGTH;
    const tp = at + SERVER_TIMING_PREFIX.length;
    this.serverTiming = this.pool.slice(at, this.offset);
    this.traceparent = this.pool.slice(tp, tp + TRACEPARENT_LENGTH);
    this.traceId = this.pool.slice(tp + 3, tp + 3 + 2 * TRACE_ID_BYTES);
    this.spanId = this.pool.slice(tp + 4 + 2 * TRACE_ID_BYTES, tp + 4 + 2 * (TRACE_ID_BYTES + SPAN_ID_BYTES));
  }

  private refill(): void {
    const random = this.random;
    const view = this.view;
    this.fill(random);
    for (let e = 0; e < POOL_IDS; e++) {
      let r = e * (TRACE_ID_BYTES + SPAN_ID_BYTES);
      let o = e * ROOT_ENTRY_LENGTH + SERVER_TIMING_PREFIX.length + 3;
      let traceBits = 0;
      for (const end = r + TRACE_ID_BYTES; r < end; r++, o += 2) {
        traceBits |= random[r]!;
        view.setUint16(o, HEX_PAIRS[random[r]!]!, true);
      }
      o++; // '-'
      let spanBits = 0;
      for (const end = r + SPAN_ID_BYTES; r < end; r++, o += 2) {
        spanBits |= random[r]!;
        view.setUint16(o, HEX_PAIRS[random[r]!]!, true);
      }
      // An all-zero id is invalid (W3C): draw this entry again.
      if (traceBits === 0 || spanBits === 0) {
        this.fill(random, r - TRACE_ID_BYTES - SPAN_ID_BYTES, TRACE_ID_BYTES + SPAN_ID_BYTES);
        e--;
      }
    }
    this.pool = this.text.toString('latin1');
    this.offset = 0;
  }
}

const HEX_CHARS = '0123456789abcdef';
/** Per byte value, its two lowercase hex digits as one little-endian 16-bit unit. */
const HEX_PAIRS = Uint16Array.from({ length: 256 }, (_, b) => HEX_CHARS.charCodeAt(b >> 4) | (HEX_CHARS.charCodeAt(b & 15) << 8));
const TRACEPARENT_LENGTH = 3 + 2 * TRACE_ID_BYTES + 1 + 2 * SPAN_ID_BYTES + 3;
const ROOT_ENTRY_LENGTH = SERVER_TIMING_PREFIX.length + TRACEPARENT_LENGTH + SERVER_TIMING_SUFFIX.length;

/** The shared pool of unsampled root contexts (http-server.ts). */
export const rootContexts = new RootContextPool();

/** The TracerProvider's id generator (same interface as the SDK's RandomIdGenerator). */
export class PooledIdGenerator implements IdGenerator {
  generateTraceId(): string {
    return traceIds.next();
  }

  generateSpanId(): string {
    return spanIds.next();
  }
}
