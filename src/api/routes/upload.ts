// POST (or PUT, what `curl -T` sends) /api/upload/stream — streams a video straight into an S3
// multipart upload. Memory is at most one part buffer (UPLOAD_PART_SIZE_BYTES) per upload, whatever
// the file size (smaller for a body that declares less, or a chunked one not yet a part long): the
// body is read only while the previous part is not being uploaded (TCP back-pressure does the
// rest). The content type comes from magic bytes; the object key is server-generated; the
// client's file name is only metadata. Over the size limit -> 413 and the multipart upload
// aborted; client abort -> aborted; Redis down -> object deleted, 503.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ATTR,
  DEFAULT_VISIBILITY,
  EVENT_ATTR,
  EVENT_UPLOAD_ABORTED,
  EVENT_UPLOAD_COMPLETED,
  EVENT_UPLOAD_PART,
  EVENT_UPLOAD_REJECTED,
  META,
  REDIS_COMMAND_TIMEOUT_MS,
  ROUTES,
  SPAN_UPLOAD_STREAM,
  UPLOAD_BUFFER_INITIAL_BYTES,
  VIDEO_KEY_PREFIX,
  VISIBILITIES,
  type UploadFailureReason,
  type Visibility,
} from '../../signals/index.ts';
import { addSpanEvent, recordError, traceAsync } from '../../telemetry/index.ts';
import { setRouteClass } from '../../telemetry/http-server.ts';
import type { CompletedPart, S3Store } from '../../lib/s3.ts';
import { enqueueThumbnail, type ThumbnailQueue } from '../../lib/queue.ts';
import type { ApiConfig } from '../config.ts';
import { sendError } from '../errors.ts';
import { apiMetrics } from '../metrics.ts';
import { sessionOf } from '../session.ts';
import { sanitiseClientFilename, sanitisedExtension, sniffVideo, SNIFF_BYTES, type SniffResult } from '../sniff.ts';

export interface UploadRouteDeps {
  config: ApiConfig;
  s3: S3Store;
  queue: ThumbnailQueue;
  log: FastifyInstance['log'];
}

export interface UploadResponse {
  id: string;
  url: string;
  size: number;
  contentType: string;
}

/** A rejected or failed upload: status, JSON error code and the failure-metric reason. */
class UploadFailure extends Error {
  readonly status: number;
  readonly code: string;
  readonly reason: UploadFailureReason;
  constructor(status: number, code: string, reason: UploadFailureReason, message: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.reason = reason;
  }
}

const tooLarge = (max: number): UploadFailure => new UploadFailure(413, 'too_large', 'too_large', `uploads are limited to ${max} bytes`);

/**
 * The part buffer's first size: the declared body length when it is under a part (a 64 KiB upload
 * does not get 5 MiB), otherwise a part; without a usable declared length, `initial` (the buffer
 * then doubles as the body comes, see growPart). Never 0: a body may come without a declaration.
 */
export function firstPartBufferBytes(declared: number, partSize: number, initial: number = UPLOAD_BUFFER_INITIAL_BYTES): number {
  if (Number.isSafeInteger(declared) && declared > 0) return Math.min(declared, partSize);
  return Math.min(initial, partSize);
}

/** A buffer twice as large (at most `partSize`, at least `fill + 1`) holding `part`'s first `fill` bytes. */
export function growPart(part: Buffer, fill: number, partSize: number): Buffer {
  const next = Buffer.allocUnsafe(Math.min(partSize, Math.max(part.length * 2, fill + 1)));
  part.copy(next, 0, 0, fill);
  return next;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function uploadRoutes(app: FastifyInstance, deps: UploadRouteDeps): Promise<void> {
  const { config, s3, queue, log } = deps;

  // In this plugin only: no body parser buffers anything. Raw bodies arrive as the request
  // stream; multipart/form-data is parsed as a stream by @fastify/multipart.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  await app.register(multipart, { limits: { fileSize: config.uploadMaxBytes + 1, files: 1, fields: 10, parts: 20 } });

  const handler = async (request: FastifyRequest<{ Querystring: { filename?: string; visibility?: string } }>, reply: FastifyReply) => {
    setRouteClass(request, 'upload');
    return traceAsync(SPAN_UPLOAD_STREAM, async (span) => {
      const reject = (f: UploadFailure): FastifyReply => {
        apiMetrics.uploadFailed(f.reason);
        addSpanEvent(EVENT_UPLOAD_REJECTED, { [EVENT_ATTR.reason]: f.code });
        if (f.status === 413) reply.header('connection', 'close');
        return sendError(reply, f.status, f.code, f.message);
      };
      const session = sessionOf(request, config.sessionSecret);
      if (!session.user) {
        return reject(new UploadFailure(401, session.hasSession ? 'invalid_session' : 'unauthenticated', 'bad_request', 'a valid session token is required'));
      }
      const visibility = (request.query.visibility ?? DEFAULT_VISIBILITY) as Visibility;
      if (!VISIBILITIES.includes(visibility)) {
        return reject(new UploadFailure(400, 'invalid_visibility', 'bad_request', `visibility must be one of ${VISIBILITIES.join(', ')}`));
      }
      const declared = Number(request.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > config.uploadMaxBytes) return reject(tooLarge(config.uploadMaxBytes));

      let source: Readable;
      let clientName: string | undefined;
      if (request.isMultipart()) {
        const file = await request.file().catch(() => undefined);
        if (!file) return reject(new UploadFailure(400, 'no_file', 'bad_request', 'the multipart body has no file part'));
        source = file.file;
        clientName = file.filename;
      } else {
        if (!request.body || typeof (request.body as Readable).pipe !== 'function') {
          return reject(new UploadFailure(400, 'empty_body', 'bad_request', 'the request has no body'));
        }
        source = request.body as Readable;
        // A repeated ?filename= arrives as an array: only a single string counts.
        clientName = typeof request.query.filename === 'string' ? request.query.filename : undefined;
      }

      const id = randomUUID();
      span.setAttribute(ATTR.videoId, id);
      const clientExt = sanitisedExtension(clientName);
      if (clientExt) span.setAttribute(ATTR.uploadClientExtension, clientExt);

      // The client going away: stop reading, abort the part in flight.
      const abort = new AbortController();
      const onClose = (): void => {
        if (!reply.raw.writableFinished) abort.abort();
      };
      reply.raw.once('close', onClose);

      const partSize = config.uploadPartSizeBytes;
      let part: Buffer | undefined;
      let fill = 0;
      let total = 0;
      /** Bytes that reached S3 (sum of uploaded parts). */
      let stored = 0;
      let sniffed: SniffResult | null = null;
      let key: string | undefined;
      let uploadId: string | undefined;
      const parts: CompletedPart[] = [];

      const startUpload = async (): Promise<void> => {
        sniffed = sniffVideo(part!.subarray(0, Math.min(fill, SNIFF_BYTES)));
        if (!sniffed) throw new UploadFailure(415, 'unsupported_media_type', 'bad_request', 'the body is not an MP4, MOV, WebM, Matroska or AVI video');
        key = `${VIDEO_KEY_PREFIX}${id}.${sniffed.extension}`;
        span.setAttribute(ATTR.uploadContentType, sniffed.contentType);
        span.setAttribute(ATTR.uploadExtension, sniffed.extension);
        span.setAttribute(ATTR.format, sniffed.extension);
        const metadata: Record<string, string> = { [META.owner]: session.user!.userId, [META.visibility]: visibility, [META.videoId]: id };
        const original = sanitiseClientFilename(clientName);
        if (original) metadata[META.originalFilename] = original;
        uploadId = await s3.createMultipartUpload(key, { contentType: sniffed.contentType, metadata });
      };
      const flushPart = async (): Promise<void> => {
        const partNumber = parts.length + 1;
        const body = fill === partSize ? part! : part!.subarray(0, fill);
        parts.push(await s3.uploadPart(key!, uploadId!, partNumber, body, abort.signal));
        stored += fill;
        apiMetrics.partUploaded(fill);
        addSpanEvent(EVENT_UPLOAD_PART, { [EVENT_ATTR.partNumber]: partNumber, [EVENT_ATTR.bytes]: fill, [EVENT_ATTR.totalBytes]: stored });
        fill = 0;
      };

      try {
        for await (const raw of source) {
          if (abort.signal.aborted) break;
          const chunk = raw as Buffer;
          total += chunk.length;
          if (total > config.uploadMaxBytes) throw tooLarge(config.uploadMaxBytes);
          part ??= Buffer.allocUnsafe(firstPartBufferBytes(declared, partSize));
          let offset = 0;
          while (offset < chunk.length) {
            if (fill === part.length) part = growPart(part, fill, partSize);
            const n = Math.min(chunk.length - offset, part.length - fill);
            chunk.copy(part, fill, offset, offset + n);
            fill += n;
            offset += n;
            if (!uploadId && fill >= SNIFF_BYTES) await startUpload();
            if (fill === partSize) await flushPart();
          }
        }
        if (abort.signal.aborted || (!request.isMultipart() && !request.raw.complete)) {
          throw new UploadFailure(499, 'client_abort', 'client_abort', 'the client closed the connection');
        }
        if (total === 0) throw new UploadFailure(400, 'empty_body', 'bad_request', 'the upload is empty');
        if (!uploadId) await startUpload();
        if (fill > 0) await flushPart();
        await s3.completeMultipartUpload(key!, uploadId!, parts);
      } catch (err) {
        if (uploadId) {
          // Nothing half-stored: the parts are discarded (S3 keeps them, billed, until aborted).
          await s3.abortMultipartUpload(key!, uploadId).catch((e: unknown) => log.error({ err: e }, 'abort of multipart upload failed'));
        }
        const clientGone = abort.signal.aborted || (err as NodeJS.ErrnoException).code === 'ECONNRESET';
        const failure =
          err instanceof UploadFailure
            ? err
            : clientGone
              ? new UploadFailure(499, 'client_abort', 'client_abort', 'the client closed the connection')
              : new UploadFailure(502, 'storage_error', 's3_error', 'storing the video failed');
        if (failure.reason === 'client_abort' || failure.reason === 's3_error') {
          apiMetrics.uploadFailed(failure.reason);
          addSpanEvent(EVENT_UPLOAD_ABORTED, { [EVENT_ATTR.reason]: failure.code, [EVENT_ATTR.totalBytes]: total, [ATTR.uploadParts]: parts.length });
          if (failure.reason === 's3_error') {
            recordError(span, err);
            log.error({ err, videoId: id }, 'upload failed');
          }
          return clientGone ? reply : sendError(reply, failure.status, failure.code, failure.message);
        }
        return reject(failure);
      } finally {
        reply.raw.off('close', onClose);
      }

      const result = sniffed as SniffResult | null;
      span.setAttribute(ATTR.uploadSize, total);
      span.setAttribute(ATTR.size, total);
      span.setAttribute(ATTR.uploadParts, parts.length);
      try {
        await withTimeout(
          enqueueThumbnail(queue, { videoId: id, bucket: s3.bucket, key: key!, size: total, contentType: result!.contentType }),
          REDIS_COMMAND_TIMEOUT_MS,
          'enqueue',
        );
      } catch (err) {
        // Without its job the video would never get a thumbnail: undo the upload, ask to retry.
        recordError(span, err);
        log.error({ err, videoId: id }, 'enqueue of thumbnail job failed; deleting the upload');
        await s3.deleteObject(key!).catch((e: unknown) => log.error({ err: e }, 'delete after failed enqueue failed'));
        apiMetrics.uploadFailed('queue_unavailable');
        return sendError(reply, 503, 'queue_unavailable', 'the job queue is unavailable; the upload was not kept, retry later');
      }
      apiMetrics.uploadCompleted(total);
      addSpanEvent(EVENT_UPLOAD_COMPLETED, { [EVENT_ATTR.totalBytes]: total, [ATTR.uploadParts]: parts.length, [ATTR.videoId]: id });
      log.info({ videoId: id, size: total, contentType: result!.contentType, parts: parts.length }, 'upload stored');
      const filename = key!.slice(VIDEO_KEY_PREFIX.length);
      const body: UploadResponse = { id, url: `/api/videos/${filename}`, size: total, contentType: result!.contentType };
      return reply.code(201).send(body);
    });
  };

  app.route({ method: ['POST', 'PUT'], url: ROUTES.uploadStream, config: { routeClass: 'upload' }, handler });
}
