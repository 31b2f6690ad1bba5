// GET /api/videos/:filename — one video, by presigned redirect or proxied streaming with Range.
// The whole handler runs in the span `api.videos.stream` (child of the SERVER span) with the
// plan's events: video.access_check, video.s3_redirect (never the URL), video.range_request.
import { Transform, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import { trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ATTR,
  DELIVERY_MODES,
  EVENT_ATTR,
  EVENT_VIDEO_ACCESS_CHECK,
  EVENT_VIDEO_CLIENT_ABORT,
  EVENT_VIDEO_RANGE_REQUEST,
  EVENT_VIDEO_S3_REDIRECT,
  META,
  PRESIGNED_URL_TTL_SECONDS,
  ROUTES,
  SPAN_VIDEO_STREAM,
  VIDEO_KEY_PREFIX,
  type AccessOutcome,
  type DeliveryMode,
} from '../../signals/index.ts';
import { addSpanEvent, recordError, traceAsync } from '../../telemetry/index.ts';
import { setRouteClass } from '../../telemetry/http-server.ts';
import { isNotFound, type S3Store } from '../../lib/s3.ts';
import { sessionOf } from '../session.ts';
import { sendError } from '../errors.ts';
import { apiMetrics } from '../metrics.ts';
import { ifRangeMatches, parseRange, type RangeDecision } from '../range.ts';
import { formatOfFilename } from '../sniff.ts';
import type { ApiConfig } from '../config.ts';

/** Stored video names: a server-generated id and a video extension (nothing path-like). */
export const VIDEO_FILENAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}\.[a-z0-9]{2,5}$/;

export interface VideoRouteDeps {
  config: ApiConfig;
  s3: S3Store;
}

/** Counts the bytes that pass through (for video_bytes_served_total and the abort event). */
class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

function accessCheck(filename: string, hasSession: boolean, outcome: AccessOutcome): void {
  apiMetrics.accessCheck(outcome);
  addSpanEvent(EVENT_VIDEO_ACCESS_CHECK, {
    [EVENT_ATTR.filename]: filename,
    [EVENT_ATTR.hasSession]: hasSession,
    [EVENT_ATTR.outcome]: outcome,
  });
}

export function registerVideoRoutes(app: FastifyInstance, deps: VideoRouteDeps): void {
  const { config, s3 } = deps;

  app.get<{ Params: { filename: string }; Querystring: { delivery?: string } }>(
    ROUTES.videoStream,
    { config: { routeClass: 'stream' } },
    async (request, reply) => {
      const { filename } = request.params;
      return traceAsync(
        SPAN_VIDEO_STREAM,
        async (span) => {
          if (!VIDEO_FILENAME.test(filename)) return sendError(reply, 400, 'invalid_filename', 'filename must be <id>.<ext>');
          const format = formatOfFilename(filename);
          if (!format) return sendError(reply, 400, 'invalid_filename', 'not a video file extension');
          span.setAttribute(ATTR.format, format);

          const requested = request.query.delivery;
          if (requested !== undefined && !(DELIVERY_MODES as readonly string[]).includes(requested)) {
            return sendError(reply, 400, 'invalid_delivery', `delivery must be one of ${DELIVERY_MODES.join(', ')}`);
          }
          const delivery = (requested as DeliveryMode | undefined) ?? config.deliveryDefault;
          setRouteClass(request, delivery);
          span.setAttribute(ATTR.delivery, delivery);

          // Authentication before any S3 call: an anonymous request costs nothing downstream.
          const session = sessionOf(request, config.sessionSecret);
          span.setAttribute(ATTR.hasSession, session.hasSession);
          if (!session.hasSession) {
            accessCheck(filename, false, 'no_session');
            return sendError(reply, 401, 'unauthenticated', 'a session token is required (Authorization: Bearer or session cookie)');
          }
          if (!session.user) {
            accessCheck(filename, true, 'invalid_session');
            return sendError(reply, 401, 'invalid_session', 'the session token is invalid or expired');
          }

          const key = `${VIDEO_KEY_PREFIX}${filename}`;
          // The viewer going away (a player seeking elsewhere, a closed tab) aborts the S3 calls in
          // flight: no wasted reads, and the request ends as a client abort, not as an S3 error,
          // an error log line and a 502 nobody receives.
          const abort = new AbortController();
          const onClose = (): void => {
            if (!reply.raw.writableFinished) abort.abort();
          };
          reply.raw.once('close', onClose);
          try {
            let info;
            try {
              info = await s3.headObject(key, abort.signal);
            } catch (err) {
              if (abort.signal.aborted) return clientGone(reply, 0);
              if (!isNotFound(err)) throw err;
              accessCheck(filename, true, 'not_found');
              return sendError(reply, 404, 'not_found', 'no such video');
            }
            span.setAttribute(ATTR.size, info.contentLength);
            const owner = info.metadata[META.owner];
            const isPublic = info.metadata[META.visibility] === 'public';
            if (!isPublic && owner !== session.user.userId) {
              accessCheck(filename, true, 'forbidden');
              return sendError(reply, 403, 'forbidden', 'this video is private');
            }
            accessCheck(filename, true, 'granted');

            if (delivery === 'redirect') {
              const url = await s3.getSignedUrl(key, PRESIGNED_URL_TTL_SECONDS);
              addSpanEvent(EVENT_VIDEO_S3_REDIRECT, { [EVENT_ATTR.s3Key]: key, [EVENT_ATTR.signedUrl]: 'generated' });
              reply.header('cache-control', 'private, no-store');
              return reply.redirect(url, 302);
            }
            return await streamVideo(request, reply, s3, key, info, abort.signal);
          } finally {
            reply.raw.off('close', onClose);
          }
        },
        { [ATTR.filename]: filename },
      );
    },
  );
}

/**
 * The client went away before a response started: nothing can be sent. Records the abort on the
 * handler span (`totalBytes` when the size is known) and takes the reply out of Fastify's hands.
 */
function clientGone(reply: FastifyReply, bytes: number, totalBytes?: number): FastifyReply {
  addSpanEvent(EVENT_VIDEO_CLIENT_ABORT, totalBytes === undefined ? { [EVENT_ATTR.bytes]: bytes } : { [EVENT_ATTR.bytes]: bytes, [EVENT_ATTR.totalBytes]: totalBytes });
  return reply.hijack();
}

async function streamVideo(
  request: FastifyRequest,
  reply: FastifyReply,
  s3: S3Store,
  key: string,
  info: { contentLength: number; etag: string; contentType: string; lastModified?: Date },
  signal: AbortSignal,
): Promise<FastifyReply> {
  const size = info.contentLength;
  reply.header('accept-ranges', 'bytes');
  if (info.etag) reply.header('etag', info.etag);
  if (info.lastModified) reply.header('last-modified', info.lastModified.toUTCString());
  reply.header('cache-control', 'private, max-age=0');

  let decision: RangeDecision = parseRange(request.headers.range, size);
  const ifRange = request.headers['if-range'] as string | undefined;
  if (decision.kind !== 'full' && !ifRangeMatches(ifRange, info.etag, info.lastModified)) {
    decision = { kind: 'full', reason: 'if_range_mismatch' };
  }
  if (decision.kind === 'unsatisfiable') {
    addSpanEvent(EVENT_VIDEO_RANGE_REQUEST, { [EVENT_ATTR.totalSize]: size, [EVENT_ATTR.outcome]: 'unsatisfiable' });
    reply.header('content-range', decision.contentRange);
    return sendError(reply, 416, 'range_not_satisfiable', `the range is outside the ${size}-byte video`);
  }
  if (decision.kind === 'partial') {
    addSpanEvent(EVENT_VIDEO_RANGE_REQUEST, {
      [EVENT_ATTR.start]: decision.start,
      [EVENT_ATTR.end]: decision.end,
      [EVENT_ATTR.totalSize]: size,
    });
  }

  const expected = decision.kind === 'partial' ? decision.length : size;
  const range = decision.kind === 'partial' ? `bytes=${decision.start}-${decision.end}` : undefined;
  let obj;
  try {
    // Aborting `signal` (the client went away) aborts the request and destroys its socket.
    obj = await s3.getObject(key, { ...(range ? { range } : {}), signal });
  } catch (err) {
    if (signal.aborted) return clientGone(reply, 0, expected);
    throw err;
  }
  const counter = new ByteCounter();
  let s3Failure: Error | undefined;
  obj.body.once('error', (err) => {
    if (!signal.aborted) s3Failure = err;
    counter.destroy(err);
  });
  obj.body.pipe(counter);

  reply.type(info.contentType);
  if (decision.kind === 'partial') {
    reply.code(206).header('content-range', decision.contentRange).header('content-length', decision.length);
    apiMetrics.rangeServed(decision.length);
  } else {
    reply.code(200).header('content-length', size);
  }
  reply.send(counter);
  try {
    await finished(reply.raw);
  } catch {
    // Premature close: the client aborted. Not a server failure; recorded as an event.
  }
  apiMetrics.bytesServed(counter.bytes);
  if (s3Failure) {
    // S3 broke the body mid-stream: a server-side failure, not a client abort.
    const span = trace.getActiveSpan();
    if (span) recordError(span, s3Failure);
    request.log.error({ err: s3Failure, bytes: counter.bytes }, 'S3 body failed mid-stream');
  } else if (!reply.raw.writableFinished || counter.bytes < expected) {
    if (!obj.body.destroyed) obj.body.destroy();
    addSpanEvent(EVENT_VIDEO_CLIENT_ABORT, { [EVENT_ATTR.bytes]: counter.bytes, [EVENT_ATTR.totalBytes]: expected });
  }
  return reply;
}
