// The worker records each finished thumbnail in a real PostgreSQL 15 (repository in
// src/lib/db.ts): the video row is created from the S3 object when the upload did not write it,
// a retried job replaces rather than duplicates, and the Prisma query spans sit in the job's trace.
import { readFileSync } from 'node:fs';
import { context, propagation, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.ts';
import { createDb, listVideosWithThumbnails, type DbHandle } from '../src/lib/db.ts';
import { createS3Store, type S3Store } from '../src/lib/s3.ts';
import { JOB_THUMBNAIL, META, PRISMA_SPANS, queueJobSpanName, thumbnailKey, type ThumbnailJobData } from '../src/signals/index.ts';
import { createThumbnailRecorder } from '../src/worker/record.ts';
import { createThumbnailWorker, type ThumbnailWorker } from '../src/worker/thumbnail-worker.ts';
import { makeTestVideo, requireFfmpeg } from './harness/ffmpeg.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';
import { startPostgres, type PostgresHandle } from './harness/postgres.ts';
import { tempDir, waitFor } from './harness/process.ts';
import { startRedis, type RedisHandle } from './harness/redis.ts';
import { startS3rver, type S3rverHandle } from './harness/s3rver.ts';

const dir = tempDir('worker-db');
let otel: TestTelemetry;
let pg: PostgresHandle;
let redis: RedisHandle;
let s3rver: S3rverHandle;
let s3: S3Store;
let database: DbHandle;
let worker: ThumbnailWorker;
let videoPath: string;

beforeAll(async () => {
  requireFfmpeg();
  otel = await startTestTelemetry('video-worker');
  [pg, redis, s3rver] = await Promise.all([startPostgres(), startRedis(), startS3rver()]);
  const url = await pg.createDatabase('worker');
  await migrate(url);
  database = createDb(url);
  s3 = createS3Store({ endpoint: s3rver.endpoint, region: s3rver.region, bucket: s3rver.bucket, accessKeyId: s3rver.accessKeyId, secretAccessKey: s3rver.secretAccessKey });
  worker = createThumbnailWorker({ redisUrl: redis.url, s3, workDir: dir.path, recordThumbnail: createThumbnailRecorder(database.db) });
  videoPath = makeTestVideo(dir.path, { seconds: 3, width: 320, height: 180 }).path;
});

afterAll(async () => {
  await worker?.close(1000);
  await database?.close();
  s3?.destroy();
  await otel?.shutdown();
  await Promise.all([pg?.stop(), redis?.stop(), s3rver?.stop()]);
  dir.cleanup();
});

async function runJob(id: string, owner: string): Promise<string> {
  const body = readFileSync(videoPath);
  const key = `videos/${id}.mp4`;
  await s3.putObject(key, body, { contentType: 'video/mp4', metadata: { [META.owner]: owner, [META.visibility]: 'public' } });
  const otelCarrier: Record<string, string> = {};
  const traceId = await trace.getTracer('test').startActiveSpan('upload', async (span) => {
    propagation.inject(context.active(), otelCarrier);
    span.end();
    return span.spanContext().traceId;
  });
  const data: ThumbnailJobData = { videoId: id, bucket: s3rver.bucket, key, size: body.length, contentType: 'video/mp4', otel: otelCarrier };
  const job = await worker.queue.add(JOB_THUMBNAIL, data, { jobId: `${id}-${Date.now()}`, attempts: 1 });
  await waitFor(async () => (await job.getState()) === 'completed', 20_000, `job ${job.id}`);
  return traceId;
}

describe('thumbnail recorded in PostgreSQL', () => {
  it('creates the missing video row from the S3 object, records the probed thumbnail, and traces the queries in the job', async () => {
    const traceId = await runJob('vid-db-1', 'olivia');
    const [video] = await listVideosWithThumbnails(database.db, 'olivia');
    expect(video).toMatchObject({ id: 'vid-db-1', s3Key: 'videos/vid-db-1.mp4', contentType: 'video/mp4', visibility: 'public' });
    expect(video?.thumbnails).toHaveLength(1);
    expect(video?.thumbnails[0]).toMatchObject({ s3Key: thumbnailKey('vid-db-1'), width: 320, height: 180, codec: 'h264' });
    expect(video?.thumbnails[0]?.durationSeconds).toBeCloseTo(3, 0);

    const jobSpan = otel.spans().find((s) => s.name === queueJobSpanName(JOB_THUMBNAIL) && s.spanContext().traceId === traceId);
    expect(jobSpan).toBeDefined();
    const queries = otel.spans().filter((s) => s.name === PRISMA_SPANS.operation && s.spanContext().traceId === traceId);
    expect(queries.length).toBeGreaterThanOrEqual(2);
  });

  it('replaces the thumbnail when the same video is processed again (retried job), never duplicates it', async () => {
    await runJob('vid-db-1', 'olivia');
    const videos = await listVideosWithThumbnails(database.db, 'olivia');
    expect(videos).toHaveLength(1);
    expect(videos[0]?.thumbnails).toHaveLength(1);
  });
});
