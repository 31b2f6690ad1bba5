// The s3rver process the test harness starts (test/harness/s3rver.ts spawns it with node and
// stops it by PID). s3rver 3.7.1 speaks the S3 REST protocol with SigV4 and presigned URLs, but
// does not implement AbortMultipartUpload or ListMultipartUploads (it answers MethodNotAllowed /
// NotImplemented). Real S3 and MinIO implement both, and the upload path relies on them, so this
// script adds the two on top of s3rver's own filesystem store (`<dir>/<bucket>/._S3rver_uploads/<id>/`).
// Usage: node s3rver-server.ts <directory> <port> <bucket>
import { createRequire } from 'node:module';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface S3rverInstance {
  middleware: Middleware[];
  run(): Promise<{ address: string; port: number }>;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as S3rverCtor;

const [directory, portArg, bucket] = process.argv.slice(2);
if (!directory || !portArg || !bucket) {
  console.error('usage: node s3rver-server.ts <directory> <port> <bucket>');
  process.exit(2);
}

const uploadsDir = (b: string): string => join(directory, b, '._S3rver_uploads');
const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const multipartShim: Middleware = async (ctx, next) => {
  const [, b, ...keyParts] = ctx.path.split('/');
  const uploadId = typeof ctx.query.uploadId === 'string' ? ctx.query.uploadId : undefined;
  // AbortMultipartUpload: DELETE /<bucket>/<key>?uploadId=<id> -> 204, parts discarded.
  if (ctx.method === 'DELETE' && b && keyParts.length && uploadId) {
    const dir = join(uploadsDir(b), uploadId.replace(/[^0-9a-f]/gi, ''));
    const exists = await stat(dir).then(() => true, () => false);
    if (!exists) {
      ctx.status = 404;
      ctx.type = 'application/xml';
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>`;
      return;
    }
    await rm(dir, { recursive: true, force: true });
    ctx.status = 204;
    ctx.body = null;
    return;
  }
  // ListMultipartUploads: GET /<bucket>?uploads -> the uploads in progress.
  if (ctx.method === 'GET' && b && keyParts.length === 0 && 'uploads' in ctx.query) {
    const ids = await readdir(uploadsDir(b)).catch(() => [] as string[]);
    const uploads = await Promise.all(
      ids.map(async (id) => ({ id, key: await readFile(join(uploadsDir(b), id, 'key'), 'utf8').catch(() => '') })),
    );
    ctx.status = 200;
    ctx.type = 'application/xml';
    ctx.body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult><Bucket>${xmlEscape(b)}</Bucket>` +
      `<IsTruncated>false</IsTruncated>` +
      uploads.map((u) => `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.id}</UploadId></Upload>`).join('') +
      `</ListMultipartUploadsResult>`;
    return;
  }
  await next();
};

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(portArg),
  directory,
  silent: true,
  configureBuckets: [{ name: bucket, configs: [] }],
});
// After s3rver's logger, before its router (the router answers MethodNotAllowed for these).
server.middleware.splice(1, 0, multipartShim);
const { address, port } = await server.run();
console.log(`S3rver listening on ${address}:${port}`);
