// The s3rver process the test harness starts (test/harness/s3rver.ts spawns it with node and
// stops it by PID). s3rver 3.7.1 speaks the S3 REST protocol with SigV4 and presigned URLs, but
// does not implement AbortMultipartUpload or ListMultipartUploads (it answers MethodNotAllowed /
// NotImplemented). Real S3 and MinIO implement both, and the upload path relies on them, so this
// script adds the two on top of s3rver's own filesystem store (`<dir>/<bucket>/._S3rver_uploads/<id>/`),
// and makes UploadPart and the abort race as they do on S3: a part for an upload that is gone (or
// being aborted) gets 404 NoSuchUpload, and an abort waits for the parts already being received
// before it deletes the upload. (s3rver itself recreates the directory of a late part, leaving an
// orphan, or crashes with ENOENT when the directory vanishes under a part it is opening; the
// overhead bench cuts uploads off at every load slice and hit that.)
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

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function noSuchUpload(ctx: KoaContext): void {
  ctx.status = 404;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>`;
}

/** Part uploads being received, per upload directory. */
const partsInFlight = new Map<string, Set<Promise<void>>>();
/** Upload directories an abort is deleting: parts for them are refused from the start of the abort. */
const aborting = new Set<string>();
/** How long an abort waits for a part in flight (a stalled client must not stall the abort forever). */
const ABORT_WAIT_MS = 10_000;

const multipartShim: Middleware = async (ctx, next) => {
  const [, b, ...keyParts] = ctx.path.split('/');
  const uploadId = typeof ctx.query.uploadId === 'string' ? ctx.query.uploadId : undefined;
  const dir = b && uploadId ? join(uploadsDir(b), uploadId.replace(/[^0-9a-f]/gi, '')) : undefined;
  // UploadPart: PUT /<bucket>/<key>?partNumber=<n>&uploadId=<id>.
  if (ctx.method === 'PUT' && dir && keyParts.length && 'partNumber' in ctx.query) {
    if (aborting.has(dir)) return noSuchUpload(ctx);
    const handled = (async () => {
      if (!(await exists(dir)) || aborting.has(dir)) return noSuchUpload(ctx);
      await next();
    })();
    let parts = partsInFlight.get(dir);
    if (!parts) partsInFlight.set(dir, (parts = new Set()));
    parts.add(handled);
    try {
      await handled;
    } finally {
      parts.delete(handled);
      if (parts.size === 0 && partsInFlight.get(dir) === parts) partsInFlight.delete(dir);
    }
    return;
  }
  // AbortMultipartUpload: DELETE /<bucket>/<key>?uploadId=<id> -> 204, parts discarded.
  if (ctx.method === 'DELETE' && dir && keyParts.length) {
    if (aborting.has(dir) || !(await exists(dir))) return noSuchUpload(ctx);
    aborting.add(dir);
    try {
      const deadline = Date.now() + ABORT_WAIT_MS;
      for (let parts = partsInFlight.get(dir); parts?.size && Date.now() < deadline; parts = partsInFlight.get(dir)) {
        await Promise.race([Promise.allSettled([...parts]), sleep(deadline - Date.now())]);
      }
      await rm(dir, { recursive: true, force: true });
    } finally {
      aborting.delete(dir);
    }
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
