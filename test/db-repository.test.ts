// The database boundary against a real PostgreSQL 15: repository functions, Prisma query spans
// in the active trace, the query-duration histogram, the slow-query log line, and no N+1.
import { context, ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.ts';
import { createDb, createVideo, listVideosWithThumbnails, markThumbnail, upsertUser, type DbHandle } from '../src/lib/db.ts';
import { DB_QUERY_DURATION, PRISMA_SPANS, SLOW_QUERY_LOG_MSG, SLOW_QUERY_THRESHOLD_MS } from '../src/signals/index.ts';
import { createLogger, registry } from '../src/telemetry/index.ts';
import { startPostgres, type PostgresHandle } from './harness/postgres.ts';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
trace.setGlobalTracerProvider(provider);
const tracer = trace.getTracer('test');

const logLines: Record<string, unknown>[] = [];
const logger = createLogger('db', { write: (s: string) => void logLines.push(JSON.parse(s) as Record<string, unknown>) });

let pgh: PostgresHandle;
let h: DbHandle;

beforeAll(async () => {
  pgh = await startPostgres();
  const url = await pgh.createDatabase('repo');
  await migrate(url);
  h = createDb(url, { logger });
});
afterAll(async () => {
  await h?.close();
  await pgh?.stop();
  trace.disable();
  context.disable();
});
beforeEach(() => {
  exporter.reset();
  logLines.length = 0;
});

/** Runs fn inside a SERVER span, the way a request handler runs, and returns its spans. */
async function inRequest<T>(fn: () => Promise<T>): Promise<{ result: T; root: ReadableSpan; queries: ReadableSpan[]; spans: ReadableSpan[] }> {
  let traceId = '';
  const result = await tracer.startActiveSpan('GET /api/videos', { kind: SpanKind.SERVER }, async (span) => {
    traceId = span.spanContext().traceId;
    try {
      return await fn();
    } finally {
      span.end();
    }
  });
  const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  const root = spans.find((s) => s.name === 'GET /api/videos')!;
  return { result, root, spans, queries: spans.filter((s) => s.name === PRISMA_SPANS.dbQuery) };
}

async function seed(email: string, videos: number): Promise<string> {
  const user = await upsertUser(h.db, { email, name: 'Seed' });
  for (let i = 0; i < videos; i++) {
    const id = `${user.id.slice(0, 8)}-v${i}`;
    await createVideo(h.db, { id, ownerId: user.id, s3Key: `videos/${id}.mp4`, contentType: 'video/mp4', sizeBytes: 1000 + i });
    await markThumbnail(h.db, { videoId: id, s3Key: `thumbnails/${id}.jpg`, width: 320, height: 180, offsetSeconds: 1, durationSeconds: 10, codec: 'h264' });
  }
  return user.id;
}

describe('database repository', () => {
  it('upserts a user by email, records videos and thumbnails, and lists them newest first', async () => {
    const a = await upsertUser(h.db, { email: 'ann@example.test', name: 'Ann' });
    const again = await upsertUser(h.db, { email: 'ann@example.test', crmContactId: 'ct_ann' });
    expect(again.id).toBe(a.id);
    expect(again.name).toBe('Ann');
    expect(again.crmContactId).toBe('ct_ann');

    await createVideo(h.db, { id: 'ann1', ownerId: a.id, s3Key: 'videos/ann1.mp4', contentType: 'video/mp4', sizeBytes: 10 });
    await createVideo(h.db, { id: 'ann2', ownerId: a.id, s3Key: 'videos/ann2.webm', contentType: 'video/webm', sizeBytes: 20 });
    await markThumbnail(h.db, { videoId: 'ann1', s3Key: 'thumbnails/ann1.jpg', width: 640, height: 360, offsetSeconds: 2 });
    // A retried thumbnail job replaces the row instead of adding a second one.
    await markThumbnail(h.db, { videoId: 'ann1', s3Key: 'thumbnails/ann1.jpg', width: 320, height: 180, offsetSeconds: 2 });

    const list = await listVideosWithThumbnails(h.db, a.id);
    expect(list.map((v) => v.id)).toEqual(['ann2', 'ann1']);
    expect(list[0]!.thumbnails).toEqual([]);
    expect(list[1]!.thumbnails.map((t) => [t.width, t.height])).toEqual([[320, 180]]);
    expect(list[1]!.sizeBytes).toBe(10n);
  });

  it('creates the owner of a video when only a session token knew them', async () => {
    await createVideo(h.db, { id: 'tok1', ownerId: 'token-user-1', s3Key: 'videos/tok1.mp4', contentType: 'video/mp4', sizeBytes: 1 });
    const list = await listVideosWithThumbnails(h.db, 'token-user-1');
    expect(list.map((v) => v.id)).toEqual(['tok1']);
  });

  it('emits Prisma query spans as descendants of the request span, in its trace', async () => {
    const owner = await seed('spans@example.test', 2);
    const { root, queries, spans } = await inRequest(() => listVideosWithThumbnails(h.db, owner));
    expect(root).toBeDefined();
    expect(queries.length).toBeGreaterThan(0);
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    for (const q of queries) {
      // Walk up the parents: every query span must reach the request span.
      let cur: ReadableSpan | undefined = q;
      let hops = 0;
      while (cur && cur !== root && hops++ < 10) cur = byId.get(cur.parentSpanContext?.spanId ?? '');
      expect(cur).toBe(root);
      expect(String(q.attributes['db.query.text'])).toMatch(/SELECT/);
      // Parameters are bound, not inlined: no personal data in the statement text.
      expect(String(q.attributes['db.query.text'])).not.toContain('spans@example.test');
    }
    expect(spans.some((s) => s.name === PRISMA_SPANS.operation && s.parentSpanContext?.spanId === root.spanContext().spanId)).toBe(true);
  });

  it('lists 1 and 20 videos with thumbnails in the same, constant number of queries (no N+1)', async () => {
    const one = await seed('one@example.test', 1);
    const twenty = await seed('twenty@example.test', 20);
    const r1 = await inRequest(() => listVideosWithThumbnails(h.db, one));
    const r20 = await inRequest(() => listVideosWithThumbnails(h.db, twenty));
    expect(r1.result).toHaveLength(1);
    expect(r20.result).toHaveLength(20);
    expect(r20.result.every((v) => v.thumbnails.length === 1)).toBe(true);
    console.log(`queries for 1 video: ${r1.queries.length}; for 20 videos: ${r20.queries.length}`);
    expect(r20.queries.length).toBe(r1.queries.length);
    expect(r1.queries.length).toBeLessThanOrEqual(2);

    // The counter does see an N+1 when one is written: one query per video on top of the list.
    const naive = await inRequest(async () => {
      const videos = await h.db.video.findMany({ where: { ownerId: twenty } });
      return Promise.all(videos.map((v) => h.db.thumbnail.findMany({ where: { videoId: v.id } })));
    });
    expect(naive.queries.length).toBe(21);
  });

  it('observes query duration by model and operation with a trace_id exemplar', async () => {
    const owner = await seed('metrics@example.test', 1);
    const { root } = await inRequest(() => listVideosWithThumbnails(h.db, owner));
    const text = await registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(`${DB_QUERY_DURATION}_count{`) && l.includes('db_model="Video"') && l.includes('db_operation="findMany"'));
    expect(line).toBeDefined();
    expect(Number(line!.split(' ').pop())).toBeGreaterThan(0);
    expect(text).toContain(`trace_id="${root.spanContext().traceId}"`);
  });

  it('observes query duration too when the trace is not sampled (metrics are never sampled)', async () => {
    const count = async (): Promise<number> => {
      const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${DB_QUERY_DURATION}_count{`) && l.includes('db_model="User"') && l.includes('db_operation="count"'));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const before = await count();
    // A request whose caller decided not to sample: the parent context is unsampled.
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE, isRemote: true });
    // (A PrismaPromise is lazy: it runs when awaited, so it is awaited inside the context.)
    const n = await context.with(unsampled, async () => await h.db.user.count());
    expect(n).toBeGreaterThanOrEqual(0);
    expect(exporter.getFinishedSpans().filter((s) => s.name === PRISMA_SPANS.dbQuery)).toHaveLength(0);
    expect((await count()) - before).toBe(1);
  });

  it(`logs a slow query (>= ${SLOW_QUERY_THRESHOLD_MS} ms) with the trace_id of the active span, and nothing for fast ones`, async () => {
    const owner = await seed('slow@example.test', 1);
    let traceId = '';
    await tracer.startActiveSpan('slow work', async (span) => {
      traceId = span.spanContext().traceId;
      await listVideosWithThumbnails(h.db, owner);
      await h.db.$queryRaw`SELECT pg_sleep(${(SLOW_QUERY_THRESHOLD_MS + 50) / 1000})::text AS slept`;
      span.end();
    });
    const slow = logLines.filter((l) => l.msg === SLOW_QUERY_LOG_MSG);
    const raw = slow.filter((l) => l.db_model === 'raw');
    expect(raw).toHaveLength(1);
    expect(raw[0]).toMatchObject({ level: 'warn', trace_id: traceId, db_model: 'raw', db_operation: '$queryRaw', outcome: 'success' });
    // Only slow operations are logged (on a loaded machine the list itself may be one of them).
    for (const l of slow) expect(Number(l.duration_ms)).toBeGreaterThanOrEqual(SLOW_QUERY_THRESHOLD_MS);
    expect(logLines.filter((l) => l.msg !== SLOW_QUERY_LOG_MSG)).toEqual([]);
  });
});
