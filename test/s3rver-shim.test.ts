// The multipart shim of the test S3 server (test/harness/s3rver-server.ts): AbortMultipartUpload
// racing with UploadPart must behave as S3 does (the abort wins, the part fails with NoSuchUpload
// or is discarded) and never take the server down. The bench's uploads are cut off at the end of
// every load slice, so it hits these races many times per run.
import { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, HeadBucketCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Store, type S3Store } from '../src/lib/s3.ts';
import { startS3rver, type S3rverHandle } from './harness/s3rver.ts';

let s3: S3rverHandle;
let store: S3Store;
let client: S3Client;

beforeAll(async () => {
  s3 = await startS3rver();
  // The service's own client configuration (path style, no trailing checksums), raw commands.
  store = createS3Store({ ...s3, maxAttempts: 1 });
  client = store.client;
});
afterAll(async () => {
  store?.destroy();
  await s3?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function createUpload(key: string): Promise<string> {
  const res = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
  return res.UploadId!;
}

async function expectServerUp(): Promise<void> {
  await expect(client.send(new HeadBucketCommand({ Bucket: s3.bucket })), `s3rver went down:\n${s3.output()}`).resolves.toBeDefined();
}

describe('s3rver multipart shim', () => {
  it('answers NoSuchUpload to a part sent after the upload was aborted, and stays up', async () => {
    const id = await createUpload('videos/late.mp4');
    await client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: 'videos/late.mp4', UploadId: id }));
    const err = await client
      .send(new UploadPartCommand({ Bucket: s3.bucket, Key: 'videos/late.mp4', UploadId: id, PartNumber: 1, Body: Buffer.alloc(1024, 1) }))
      .catch((e: unknown) => e as Error & { $metadata?: { httpStatusCode?: number } });
    expect((err as Error).name).toBe('NoSuchUpload');
    expect((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(404);
    await expectServerUp();
    expect(await s3.pendingMultipartUploads()).not.toContain(id);
  });

  it('lets an abort that arrives while a part is being received finish after it, leaving nothing behind', async () => {
    const id = await createUpload('videos/race.mp4');
    const size = 64 * 1024;
    const body = new Readable({ read() {} });
    body.push(Buffer.alloc(1024, 3));
    const part = client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: 'videos/race.mp4', UploadId: id, PartNumber: 1, Body: body, ContentLength: size }));
    await sleep(200);
    let abortedAt = 0;
    const abort = client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: 'videos/race.mp4', UploadId: id })).then(() => (abortedAt = Date.now()));
    await sleep(300);
    const bodyEndedAt = Date.now();
    body.push(Buffer.alloc(size - 1024, 3));
    body.push(null);
    const [partResult, abortResult] = await Promise.allSettled([part, abort]);
    expect(abortResult.status).toBe('fulfilled');
    // The abort waited for the part in flight (it did not delete the upload under it).
    expect(abortedAt).toBeGreaterThanOrEqual(bodyEndedAt);
    expect(['fulfilled', 'rejected']).toContain(partResult.status);
    await expectServerUp();
    expect(await s3.pendingMultipartUploads()).not.toContain(id);
    // The upload is gone for good.
    const late = await client
      .send(new UploadPartCommand({ Bucket: s3.bucket, Key: 'videos/race.mp4', UploadId: id, PartNumber: 2, Body: Buffer.alloc(16) }))
      .catch((e: unknown) => e as Error);
    expect((late as Error).name).toBe('NoSuchUpload');
  });

  it('survives many uploads aborted while their parts are in flight', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => createUpload(`videos/many-${i}.mp4`)));
    await Promise.allSettled(
      ids.map(async (id, i) => {
        const key = `videos/many-${i}.mp4`;
        const part = client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId: id, PartNumber: 1, Body: Buffer.alloc(256 * 1024, i) }));
        await sleep(i % 5);
        await client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: key, UploadId: id }));
        await part.catch(() => undefined);
      }),
    );
    await expectServerUp();
    const pending = await s3.pendingMultipartUploads();
    for (const id of ids) expect(pending).not.toContain(id);
  });
});
