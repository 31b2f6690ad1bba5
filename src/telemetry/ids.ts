// Random W3C trace and span ids from one pool: one CSPRNG read and one hex conversion per
// POOL_IDS ids of each kind, each id a slice of that string (perf showed ~0.75 µs of per-id hex
// conversion per request before; the SDK's RandomIdGenerator converts every id with
// Buffer#toString).
// Used for the ids of unsampled requests (http-server.ts) and as the TracerProvider's id
// generator (sdk.ts), so sampled and unsampled ids come from the same source.
import { randomBytes } from 'node:crypto';
import type { IdGenerator } from '@opentelemetry/sdk-trace';

// Small enough for the pool's string to be born and die in the young generation. Each id is a
// slice that keeps its pool string alive; with 4096 ids the trace-id string (128 KiB) went
// straight to V8's large-object space, the old generation grew ~0.7 MB/s under load even with
// nothing sampled, and full collections followed (npm run bench:gc, 30 s per variant: 0.75 MB/s
// before, 0.03 MB/s with 256 ids, as the baseline; docs/benchmarks.md).
const POOL_IDS = 256;

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
      if (id !== this.invalid) return id; // all zeros is the invalid id (W3C): draw again
    }
  }
}

const traceIds = new HexPool(16);
const spanIds = new HexPool(8);

/** A random, valid 32-hex-digit trace id. */
export function randomTraceId(): string {
  return traceIds.next();
}

/** A random, valid 16-hex-digit span id. */
export function randomSpanId(): string {
  return spanIds.next();
}

/** The TracerProvider's id generator (same interface as the SDK's RandomIdGenerator). */
export class PooledIdGenerator implements IdGenerator {
  generateTraceId(): string {
    return traceIds.next();
  }

  generateSpanId(): string {
    return spanIds.next();
  }
}
