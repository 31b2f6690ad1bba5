// src/lib/s3.ts against a real S3-compatible server (s3rver on 127.0.0.1).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Store, isNotFound, type S3Store } from '../src/lib/s3.ts';
import { registry } from '../src/telemetry/index.ts';
import { S3_ATTR, S3_DURATION, s3SpanName } from '../src/signals/index.ts';
import { startApp } from './harness/app.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';
import { startS3rver, type S3rverHandle } from './harness/s3rver.ts';

let s3: S3rverHandle;
let store: S3Store;

beforeAll(async () => {
  s3 = await startS3rver();
  store = createS3Store({ ...s3, maxAttempts: 1 });
});
afterAll(async () => {
  store?.destroy();
  await s3?.stop();
});

const readAll = async (body: NodeJS.ReadableStream): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
};

describe('S3Store against s3rver', () => {
  it('puts an object with metadata and reads back exactly the same bytes (no checksum framing)', async () => {
    const data = Buffer.from('0123456789abcdef'.repeat(64));
    await store.putObject('videos/a.mp4', data, { contentType: 'video/mp4', metadata: { owner: 'alice', visibility: 'private' } });
    const head = await store.headObject('videos/a.mp4');
    expect(head.contentLength).toBe(data.length);
    expect(head.contentType).toBe('video/mp4');
    expect(head.metadata).toMatchObject({ owner: 'alice', visibility: 'private' });
    expect(head.etag).toMatch(/^"[0-9a-f]{32}"$/);
    const got = await store.getObject('videos/a.mp4');
    expect(await readAll(got.body)).toEqual(data);
  });

  it('serves a byte range with its Content-Range', async () => {
    const got = await store.getObject('videos/a.mp4', { range: 'bytes=10-19' });
    expect(got.contentRange).toBe('bytes 10-19/1024');
    expect(got.contentLength).toBe(10);
    expect((await readAll(got.body)).toString()).toBe('abcdef0123');
  });

  it('uploads a multipart object part by part and completes it', async () => {
    const part1 = Buffer.alloc(5 * 1024 * 1024, 1);
    const part2 = Buffer.from('tail');
    const id = await store.createMultipartUpload('videos/m.mp4', { contentType: 'video/mp4', metadata: { owner: 'bob' } });
    const p1 = await store.uploadPart('videos/m.mp4', id, 1, part1);
    const p2 = await store.uploadPart('videos/m.mp4', id, 2, part2);
    expect(await s3.pendingMultipartUploads()).toEqual([id]);
    await store.completeMultipartUpload('videos/m.mp4', id, [p1, p2]);
    const head = await store.headObject('videos/m.mp4');
    expect(head.contentLength).toBe(part1.length + part2.length);
    expect(head.metadata.owner).toBe('bob');
    expect(await s3.pendingMultipartUploads()).toEqual([]);
  });

  it('aborts a multipart upload so no parts are left behind', async () => {
    const id = await store.createMultipartUpload('videos/x.mp4');
    await store.uploadPart('videos/x.mp4', id, 1, Buffer.alloc(1024, 2));
    expect(await s3.pendingMultipartUploads()).toContain(id);
    await store.abortMultipartUpload('videos/x.mp4', id);
    expect(await s3.pendingMultipartUploads()).not.toContain(id);
    expect((await store.listObjects('videos/x')).length).toBe(0);
  });

  it('presigns a GET URL that fetches the object without other credentials', async () => {
    const url = await store.getSignedUrl('videos/a.mp4', 60);
    expect(url).toContain('X-Amz-Signature=');
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(1024);
  });

  it('lists and deletes objects', async () => {
    expect((await store.listObjects('videos/')).map((o) => o.key).sort()).toEqual(['videos/a.mp4', 'videos/m.mp4']);
    await store.deleteObject('videos/m.mp4');
    expect((await store.listObjects('videos/')).map((o) => o.key)).toEqual(['videos/a.mp4']);
  });

  it('reports a missing object as not found and counts the error in the latency histogram', async () => {
    const err = await store.headObject('videos/missing.mp4').catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
    const text = await registry.metrics();
    expect(text).toMatch(new RegExp(`${S3_DURATION}_count\\{[^}]*s3_operation="head_object",outcome="error"[^}]*\\} [1-9]`));
  });

  it('checks the bucket exists, and fails for a bucket that does not', async () => {
    await expect(store.headBucket()).resolves.toBeUndefined();
    const other = createS3Store({ ...s3, bucket: 'no-such-bucket', maxAttempts: 1 });
    await expect(other.headBucket()).rejects.toSatisfy(isNotFound);
    other.destroy();
  });
});

describe('S3Store spans', () => {
  let tel: TestTelemetry;
  beforeAll(async () => {
    tel = await startTestTelemetry('video-api');
  });
  afterAll(async () => {
    await tel?.shutdown();
  });

  it('makes each operation a CLIENT span s3.<operation> with bucket, key and operation attributes', async () => {
    tel.reset();
    await store.putObject('videos/span.mp4', Buffer.from('x'));
    await store.headObject('videos/span.mp4');
    const url = await store.getSignedUrl('videos/span.mp4', 60);
    await store.deleteObject('videos/span.mp4');
    const names = tel.spans().map((s) => s.name);
    expect(names).toEqual([s3SpanName('put_object'), s3SpanName('head_object'), s3SpanName('get_signed_url'), s3SpanName('delete_object')]);
    for (const span of tel.spans()) {
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.attributes).toMatchObject({ [S3_ATTR.bucket]: s3.bucket, [S3_ATTR.key]: 'videos/span.mp4', [S3_ATTR.operation]: span.name.slice(3) });
      expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    }
    // The presigned URL is returned, never recorded.
    const signature = new URL(url).searchParams.get('X-Amz-Signature')!;
    expect(JSON.stringify(tel.spans().map((s) => [s.attributes, s.events]))).not.toContain(signature);
  });

  it('marks the span ERROR with an exception event when the bucket does not exist', async () => {
    tel.reset();
    const other = createS3Store({ ...s3, bucket: 'no-such-bucket', maxAttempts: 1 });
    await expect(other.putObject('videos/x.mp4', Buffer.from('x'))).rejects.toThrow();
    other.destroy();
    const [span] = tel.spansNamed(s3SpanName('put_object'));
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes[S3_ATTR.statusCode]).toBe(404);
    expect(span?.events.find((e) => e.name === 'exception')?.attributes?.['exception.type']).toBe('NoSuchBucket');
  });

  it('marks the span ERROR and counts outcome="error" when the S3 server is gone', async () => {
    const gone = await startS3rver();
    const orphan = createS3Store({ ...gone, maxAttempts: 1 });
    await gone.stop();
    tel.reset();
    await expect(orphan.headBucket()).rejects.toThrow();
    orphan.destroy();
    const [span] = tel.spansNamed(s3SpanName('head_bucket'));
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.events.some((e) => e.name === 'exception')).toBe(true);
    expect(await registry.metrics()).toMatch(new RegExp(`${S3_DURATION}_count\\{[^}]*s3_operation="head_bucket",outcome="error"[^}]*\\} [1-9]`));
  });
});

describe('S3Store socket idle timeout', () => {
  // A hung S3 (accepts the connection, never answers) must fail the call, not hold it forever;
  // a slow object that keeps sending bytes must not be cut.
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
  const listen = async (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> => {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const config = (endpoint: string) => ({ endpoint, region: 'us-east-1', bucket: 'videos', accessKeyId: 'k', secretAccessKey: 's', maxAttempts: 1, socketIdleTimeoutMs: 300 });

  it('fails a call to an S3 that never answers after the idle timeout', async () => {
    const endpoint = await listen(() => undefined);
    const hung = createS3Store(config(endpoint));
    const started = performance.now();
    await expect(hung.headObject('videos/a.mp4')).rejects.toThrow();
    const elapsed = performance.now() - started;
    hung.destroy();
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3000);
  });

  it('answers a video request 502 storage_error when S3 hangs, instead of holding it', async () => {
    const endpoint = await listen(() => undefined);
    const hung = createS3Store(config(endpoint));
    const api = await startApp({ deps: { s3: hung } });
    try {
      const started = performance.now();
      const res = await fetch(`${api.url}/api/videos/a.mp4`, { headers: { authorization: `Bearer ${api.token('alice')}` }, signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: string }).error).toBe('storage_error');
      expect(performance.now() - started).toBeLessThan(3000);
    } finally {
      await api.stop();
      hung.destroy();
    }
  });

  it('does not cut an object body that keeps arriving, however long it takes in total', async () => {
    const chunks = 8;
    const endpoint = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(chunks), etag: '"0123456789abcdef0123456789abcdef"' });
      let sent = 0;
      const timer = setInterval(() => {
        res.write('x');
        if (++sent === chunks) {
          clearInterval(timer);
          res.end();
        }
      }, 150);
      res.on('close', () => clearInterval(timer));
    });
    const slow = createS3Store(config(endpoint));
    const started = performance.now();
    const got = await slow.getObject('videos/slow.mp4');
    expect((await readAll(got.body)).toString()).toBe('x'.repeat(chunks));
    // 8 × 150 ms in total, well over the 300 ms idle timeout.
    expect(performance.now() - started).toBeGreaterThan(1000);
    slow.destroy();
  });
});
