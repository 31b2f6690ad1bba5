// RFC 9110 byte ranges: the pure parser, then the same table over HTTP against the real app
// (exact status, Content-Range, Content-Length and bytes from s3rver).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ifRangeMatches, parseRange } from '../src/api/range.ts';
import { createS3Store, type S3Store } from '../src/lib/s3.ts';
import { META } from '../src/signals/index.ts';
import { fakeVideo, startApp, type StartedApp } from './harness/app.ts';

const SIZE = 1000;

describe('parseRange (pure)', () => {
  const cases: [string | undefined, number, ReturnType<typeof parseRange>][] = [
    [undefined, SIZE, { kind: 'full', reason: 'absent' }],
    ['bytes=0-99', SIZE, { kind: 'partial', start: 0, end: 99, length: 100, contentRange: 'bytes 0-99/1000' }],
    ['bytes=500-', SIZE, { kind: 'partial', start: 500, end: 999, length: 500, contentRange: 'bytes 500-999/1000' }],
    ['bytes=-100', SIZE, { kind: 'partial', start: 900, end: 999, length: 100, contentRange: 'bytes 900-999/1000' }],
    ['bytes=-5000', SIZE, { kind: 'partial', start: 0, end: 999, length: 1000, contentRange: 'bytes 0-999/1000' }],
    ['bytes=990-5000', SIZE, { kind: 'partial', start: 990, end: 999, length: 10, contentRange: 'bytes 990-999/1000' }],
    ['bytes=999-999', SIZE, { kind: 'partial', start: 999, end: 999, length: 1, contentRange: 'bytes 999-999/1000' }],
    ['Bytes = 10-19', SIZE, { kind: 'partial', start: 10, end: 19, length: 10, contentRange: 'bytes 10-19/1000' }],
    ['bytes=1000-', SIZE, { kind: 'unsatisfiable', contentRange: 'bytes */1000' }],
    ['bytes=1000-2000', SIZE, { kind: 'unsatisfiable', contentRange: 'bytes */1000' }],
    ['bytes=-0', SIZE, { kind: 'unsatisfiable', contentRange: 'bytes */1000' }],
    ['bytes=0-0', 0, { kind: 'unsatisfiable', contentRange: 'bytes */0' }],
    ['bytes=-10', 0, { kind: 'unsatisfiable', contentRange: 'bytes */0' }],
    ['bytes=99999999999999999999999-', SIZE, { kind: 'unsatisfiable', contentRange: 'bytes */1000' }],
    ['bytes=0-99999999999999999999999', SIZE, { kind: 'partial', start: 0, end: 999, length: 1000, contentRange: 'bytes 0-999/1000' }],
    ['bytes=-99999999999999999999999', SIZE, { kind: 'partial', start: 0, end: 999, length: 1000, contentRange: 'bytes 0-999/1000' }],
    ['bytes=0-1,5-9', SIZE, { kind: 'full', reason: 'ignored_multiple' }],
    ['bytes=0-1, -5', SIZE, { kind: 'full', reason: 'ignored_multiple' }],
    ['bytes=5-1', SIZE, { kind: 'full', reason: 'ignored_invalid' }],
    ['bytes=abc', SIZE, { kind: 'full', reason: 'ignored_invalid' }],
    ['bytes=-', SIZE, { kind: 'full', reason: 'ignored_invalid' }],
    ['bytes=', SIZE, { kind: 'full', reason: 'ignored_invalid' }],
    ['bytes=1.5-3', SIZE, { kind: 'full', reason: 'ignored_invalid' }],
    ['bytes=-1-2', SIZE, { kind: 'full', reason: 'ignored_invalid' }],
    ['items=0-1', SIZE, { kind: 'full', reason: 'ignored_invalid' }],
    ['0-1', SIZE, { kind: 'full', reason: 'ignored_invalid' }],
    [`bytes=${'0-1,'.repeat(200)}0-1`, SIZE, { kind: 'full', reason: 'ignored_invalid' }],
  ];
  it.each(cases)('Range %j on %i bytes', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it('If-Range: strong ETag must match exactly; weak tags never match; dates match Last-Modified to the second', () => {
    const lm = new Date('2026-11-25T10:00:00Z');
    expect(ifRangeMatches(undefined, '"abc"', lm)).toBe(true);
    expect(ifRangeMatches('"abc"', '"abc"', lm)).toBe(true);
    expect(ifRangeMatches('"abd"', '"abc"', lm)).toBe(false);
    expect(ifRangeMatches('W/"abc"', '"abc"', lm)).toBe(false);
    expect(ifRangeMatches(lm.toUTCString(), '"abc"', lm)).toBe(true);
    expect(ifRangeMatches(new Date(lm.getTime() - 1000).toUTCString(), '"abc"', lm)).toBe(false);
    expect(ifRangeMatches('not a date', '"abc"', lm)).toBe(false);
  });
});

describe('Range over HTTP (GET /api/videos/:filename?delivery=stream)', () => {
  let api: StartedApp;
  let store: S3Store;
  const body = fakeVideo(SIZE);
  const ID = 'b0000000-0000-4000-8000-000000000001';
  const EMPTY = 'b0000000-0000-4000-8000-000000000002';
  let etag = '';

  beforeAll(async () => {
    api = await startApp();
    store = createS3Store({ ...api.s3, maxAttempts: 1 });
    const opts = { contentType: 'video/mp4', metadata: { [META.owner]: 'alice', [META.visibility]: 'private' } };
    etag = (await store.putObject(`videos/${ID}.mp4`, body, opts)).etag;
    await store.putObject(`videos/${EMPTY}.mp4`, Buffer.alloc(0), opts);
  });
  afterAll(async () => {
    store?.destroy();
    await api?.stop();
  });

  const get = async (id: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${api.url}/api/videos/${id}.mp4?delivery=stream`, { headers: { authorization: `Bearer ${api.token('alice')}`, ...headers } });
    return { res, bytes: Buffer.from(await res.arrayBuffer()) };
  };

  const table: { name: string; range?: string; status: number; contentRange: string | null; slice?: [number, number] }[] = [
    { name: 'no Range', status: 200, contentRange: null, slice: [0, SIZE] },
    { name: 'first bytes', range: 'bytes=0-99', status: 206, contentRange: 'bytes 0-99/1000', slice: [0, 100] },
    { name: 'open-ended', range: 'bytes=900-', status: 206, contentRange: 'bytes 900-999/1000', slice: [900, 1000] },
    { name: 'suffix', range: 'bytes=-10', status: 206, contentRange: 'bytes 990-999/1000', slice: [990, 1000] },
    { name: 'suffix longer than the file', range: 'bytes=-5000', status: 206, contentRange: 'bytes 0-999/1000', slice: [0, 1000] },
    { name: 'end beyond the end (clamped)', range: 'bytes=995-2000', status: 206, contentRange: 'bytes 995-999/1000', slice: [995, 1000] },
    { name: 'start beyond the end', range: 'bytes=1000-1010', status: 416, contentRange: 'bytes */1000' },
    { name: 'zero suffix', range: 'bytes=-0', status: 416, contentRange: 'bytes */1000' },
    { name: 'huge start', range: 'bytes=18446744073709551616-', status: 416, contentRange: 'bytes */1000' },
    { name: 'huge end', range: 'bytes=10-18446744073709551616', status: 206, contentRange: 'bytes 10-999/1000', slice: [10, 1000] },
    { name: 'malformed (ignored)', range: 'bytes=x-y', status: 200, contentRange: null, slice: [0, SIZE] },
    { name: 'reversed (ignored)', range: 'bytes=10-5', status: 200, contentRange: null, slice: [0, SIZE] },
    { name: 'other unit (ignored)', range: 'frames=0-1', status: 200, contentRange: null, slice: [0, SIZE] },
    { name: 'multiple ranges (whole body)', range: 'bytes=0-1,10-11', status: 200, contentRange: null, slice: [0, SIZE] },
  ];

  it.each(table)('$name: Range $range -> $status', async ({ range, status, contentRange, slice }) => {
    const { res, bytes } = await get(ID, range ? { range } : {});
    expect(res.status).toBe(status);
    expect(res.headers.get('content-range')).toBe(contentRange);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('etag')).toBe(etag);
    if (slice) {
      expect(res.headers.get('content-length')).toBe(String(slice[1] - slice[0]));
      expect(bytes).toEqual(body.subarray(slice[0], slice[1]));
    } else {
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    }
  });

  it('zero-length file: 200 with an empty body without Range, 416 bytes */0 with any range', async () => {
    const whole = await get(EMPTY);
    expect(whole.res.status).toBe(200);
    expect(whole.res.headers.get('content-length')).toBe('0');
    expect(whole.bytes.length).toBe(0);
    for (const range of ['bytes=0-0', 'bytes=-1', 'bytes=0-']) {
      const r = await get(EMPTY, { range });
      expect(r.res.status, range).toBe(416);
      expect(r.res.headers.get('content-range')).toBe('bytes */0');
    }
  });

  it('If-Range with the current ETag gets the range; a stale ETag or a weak one gets the whole body', async () => {
    const fresh = await get(ID, { range: 'bytes=0-9', 'if-range': etag });
    expect(fresh.res.status).toBe(206);
    expect(fresh.bytes).toEqual(body.subarray(0, 10));
    for (const stale of ['"0123456789abcdef0123456789abcdef"', `W/${etag}`]) {
      const r = await get(ID, { range: 'bytes=0-9', 'if-range': stale });
      expect(r.res.status, stale).toBe(200);
      expect(r.bytes).toEqual(body);
    }
  });
});
