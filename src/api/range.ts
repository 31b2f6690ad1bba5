// RFC 9110 byte ranges (section 14), as a pure function of the Range header and the size.
//
// Decisions, each allowed by the RFC:
// - A header we cannot parse (other unit, bad syntax, first > last) is ignored: 200 with the
//   whole body (section 14.2: a server MAY ignore a Range header with an invalid ranges-specifier).
// - Several ranges (`bytes=0-1,5-9`) are ignored too: 200 with the whole body. Players ask for
//   one range at a time; answering multipart/byteranges would mean one S3 request per range and
//   a multipart body, and serving only the first range would hand a client that asked for more
//   a 206 it did not expect. A 200 is always a correct answer (section 14.2: MAY ignore).
// - A range that starts at or beyond the end, a zero suffix (`-0`) and any range of an empty
//   representation are unsatisfiable: 416 with `Content-Range: bytes */<size>`.
// - `last` beyond the end is clamped to size - 1; a suffix longer than the size is the whole body.

export type RangeDecision =
  /** No (usable) Range: 200 with the whole representation. */
  | { kind: 'full'; reason: 'absent' | 'ignored_invalid' | 'ignored_multiple' | 'if_range_mismatch' }
  /** 206 with bytes start..end (inclusive). */
  | { kind: 'partial'; start: number; end: number; length: number; contentRange: string }
  /** 416 with Content-Range: bytes *\/size. */
  | { kind: 'unsatisfiable'; contentRange: string };

/** Longest Range header we parse; longer ones are ignored (nobody needs more for one range). */
const MAX_HEADER_LENGTH = 256;
const SPEC = /^(\d*)-(\d*)$/;

export function parseRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined || header === '') return { kind: 'full', reason: 'absent' };
  if (header.length > MAX_HEADER_LENGTH) return { kind: 'full', reason: 'ignored_invalid' };
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return { kind: 'full', reason: 'ignored_invalid' };
  const specs = header
    .slice(eq + 1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (specs.length === 0) return { kind: 'full', reason: 'ignored_invalid' };
  const parsed: { first?: number; last?: number; suffix?: number }[] = [];
  for (const spec of specs) {
    const m = SPEC.exec(spec);
    if (!m) return { kind: 'full', reason: 'ignored_invalid' };
    const [, a = '', b = ''] = m;
    // Digits too long for a safe integer become Infinity-like numbers; comparisons stay right.
    if (a === '' && b === '') return { kind: 'full', reason: 'ignored_invalid' };
    if (a === '') parsed.push({ suffix: Number(b) });
    else {
      const first = Number(a);
      const last = b === '' ? undefined : Number(b);
      if (last !== undefined && last < first) return { kind: 'full', reason: 'ignored_invalid' };
      parsed.push(last === undefined ? { first } : { first, last });
    }
  }
  if (parsed.length > 1) return { kind: 'full', reason: 'ignored_multiple' };
  const only = parsed[0]!;
  const unsatisfiable: RangeDecision = { kind: 'unsatisfiable', contentRange: `bytes */${size}` };
  if (size === 0) return unsatisfiable;
  let start: number;
  let end: number;
  if (only.suffix !== undefined) {
    if (only.suffix === 0) return unsatisfiable;
    start = Math.max(0, size - only.suffix);
    end = size - 1;
  } else {
    const first = only.first!;
    if (first >= size) return unsatisfiable;
    start = first;
    end = only.last === undefined ? size - 1 : Math.min(only.last, size - 1);
  }
  return { kind: 'partial', start, end, length: end - start + 1, contentRange: `bytes ${start}-${end}/${size}` };
}

/**
 * If-Range (section 13.1.5): the Range applies only when the validator matches the current
 * representation. An entity tag must match strongly (weak tags never do); an HTTP date must
 * equal Last-Modified exactly.
 */
export function ifRangeMatches(ifRange: string | undefined, etag: string, lastModified?: Date): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('W/')) return false;
  if (v.startsWith('"')) return etag !== '' && !etag.startsWith('W/') && v === etag;
  if (!lastModified) return false;
  const t = Date.parse(v);
  return Number.isFinite(t) && Math.floor(t / 1000) === Math.floor(lastModified.getTime() / 1000);
}
