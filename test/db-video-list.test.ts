// GET /api/videos on a real Fastify app with the service's HTTP instrumentation and a real
// PostgreSQL 15: auth, the caller's videos with thumbnails, pagination, query spans under the
// request span, and the same number of queries for 1 and for 20 videos.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signToken } from '../src/api/auth.ts';
import { registerVideoList, type VideoListBody } from '../src/api/routes/video-list.ts';
import { migrate } from '../src/db/migrate.ts';
import { createDb, createVideo, markThumbnail, type DbHandle } from '../src/lib/db.ts';
import { PRISMA_SPANS, ROUTES } from '../src/signals/index.ts';
import { instrumentFastify } from '../src/telemetry/http-server.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';
import { startPostgres, type PostgresHandle } from './harness/postgres.ts';

const SESSION_SECRET = 'video-list-test-secret';
let tel: TestTelemetry;
let pgh: PostgresHandle;
let dbh: DbHandle;
let app: FastifyInstance;

async function seed(ownerId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = `${ownerId}-${String(i).padStart(2, '0')}`;
    await createVideo(dbh.db, { id, ownerId, s3Key: `videos/${id}.mp4`, contentType: 'video/mp4', sizeBytes: 1_000_000 + i, title: `clip ${i}` });
    await markThumbnail(dbh.db, { videoId: id, s3Key: `thumbnails/${id}.jpg`, width: 640, height: 360, offsetSeconds: 1.5, durationSeconds: 12, codec: 'h264' });
  }
}

beforeAll(async () => {
  tel = await startTestTelemetry('video-api');
  pgh = await startPostgres();
  const url = await pgh.createDatabase('videolist');
  await migrate(url);
  dbh = createDb(url);
  await seed('alice', 1);
  await seed('bob', 20);
  await seed('carol', 0);
  app = Fastify();
  instrumentFastify(app);
  registerVideoList(app, { db: dbh.db, sessionSecret: SESSION_SECRET });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await dbh?.close();
  await pgh?.stop();
  await tel?.shutdown();
});
beforeEach(() => tel.reset());

const list = (user: string | null, query = '') =>
  app.inject({ method: 'GET', url: `${ROUTES.videoList}${query}`, headers: user ? { authorization: `Bearer ${signToken(user, SESSION_SECRET)}` } : {} });

/** The request's SERVER span and the Prisma SQL spans under it. */
function requestTrace(): { server: ReadableSpan; queries: ReadableSpan[] } {
  const spans = tel.spans();
  const server = spans.find((s) => s.name === `GET ${ROUTES.videoList}`)!;
  expect(server).toBeDefined();
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const queries = spans.filter((s) => s.name === PRISMA_SPANS.dbQuery && s.spanContext().traceId === server.spanContext().traceId);
  for (const q of queries) {
    let cur: ReadableSpan | undefined = q;
    for (let i = 0; cur && cur !== server && i < 10; i++) cur = byId.get(cur.parentSpanContext?.spanId ?? '');
    expect(cur, `${q.name} is not under the request span`).toBe(server);
  }
  return { server, queries };
}

describe('GET /api/videos', () => {
  it('answers 401 without a token or with a forged one', async () => {
    expect((await list(null)).statusCode).toBe(401);
    const forged = await app.inject({ method: 'GET', url: ROUTES.videoList, headers: { authorization: `Bearer ${signToken('alice', 'wrong-secret')}` } });
    expect(forged.statusCode).toBe(401);
    expect(forged.json()).toMatchObject({ error: 'unauthorized' });
  });

  it("lists only the caller's videos, each with its play URL and thumbnails", async () => {
    const res = await list('alice');
    expect(res.statusCode).toBe(200);
    const body = res.json() as VideoListBody;
    expect(body.nextCursor).toBeNull();
    expect(body.videos).toEqual([
      {
        id: 'alice-00',
        url: '/api/videos/alice-00.mp4',
        title: 'clip 0',
        contentType: 'video/mp4',
        sizeBytes: 1_000_000,
        visibility: 'private',
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        thumbnails: [{ key: 'thumbnails/alice-00.jpg', width: 640, height: 360, offsetSeconds: 1.5, durationSeconds: 12, codec: 'h264' }],
      },
    ]);
    expect(((await list('carol')).json() as VideoListBody).videos).toEqual([]);
  });

  it('pages with limit and cursor without repeating or skipping a video', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res = await list('bob', `?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      const body = res.json() as VideoListBody;
      seen.push(...body.videos.map((v) => v.id));
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toHaveLength(20);
    expect(new Set(seen).size).toBe(20);
    expect((await list('bob', '?limit=0')).statusCode).toBe(400);
    expect((await list('bob', '?limit=abc')).statusCode).toBe(400);
  });

  it('runs its SQL as children of the request span, and the same number of queries for 1 and for 20 videos', async () => {
    const one = await list('alice');
    expect((one.json() as VideoListBody).videos).toHaveLength(1);
    const q1 = requestTrace().queries.length;
    tel.reset();
    const twenty = await list('bob');
    expect((twenty.json() as VideoListBody).videos).toHaveLength(20);
    expect((twenty.json() as VideoListBody).videos.every((v) => v.thumbnails.length === 1)).toBe(true);
    const q20 = requestTrace().queries.length;
    console.log(`GET /api/videos SQL statements: ${q1} for 1 video, ${q20} for 20 videos`);
    expect(q1).toBeGreaterThan(0);
    expect(q20).toBe(q1);
    expect(q20).toBeLessThanOrEqual(2);
  });
});
