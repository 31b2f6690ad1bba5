// GET /api/videos: the caller's videos, newest first, each with its thumbnails.
// Auth: session token (Bearer or `session` cookie, src/api/auth.ts) -> 401 without one.
// Query: `limit` (1..VIDEO_LIST_MAX_LIMIT, default VIDEO_LIST_DEFAULT_LIMIT), `cursor` (the
// `nextCursor` of the previous page). Two SQL queries per page whatever its size (no N+1).
import type { FastifyInstance } from 'fastify';
import { ROUTES, VIDEO_LIST_DEFAULT_LIMIT, VIDEO_LIST_MAX_LIMIT } from '../../signals/index.ts';
import { listVideosWithThumbnails, type Db } from '../../lib/db.ts';
import { tokenFromRequest, verifyToken } from '../auth.ts';
import { sendError } from '../errors.ts';

export interface VideoListDeps {
  db: Db;
  /** SESSION_SECRET (the one the tokens are signed with). */
  sessionSecret: string;
}

export interface VideoListItem {
  id: string;
  /** Where the video plays: GET /api/videos/<id>.<ext>. */
  url: string;
  title: string | null;
  contentType: string;
  sizeBytes: number;
  visibility: string;
  createdAt: string;
  thumbnails: { key: string; width: number; height: number; offsetSeconds: number; durationSeconds: number | null; codec: string | null }[];
}

export interface VideoListBody {
  videos: VideoListItem[];
  nextCursor: string | null;
}

export function registerVideoList(app: FastifyInstance, deps: VideoListDeps): void {
  app.get<{ Querystring: { limit?: string; cursor?: string } }>(ROUTES.videoList, { config: { routeClass: 'api' } }, async (request, reply) => {
    const token = tokenFromRequest(request);
    const session = token ? verifyToken(token, deps.sessionSecret) : null;
    if (!session) return sendError(reply, 401, 'unauthorized', 'a valid session token is required');
    const { limit: rawLimit, cursor } = request.query;
    let limit: number | undefined;
    if (rawLimit !== undefined) {
      limit = Number(rawLimit);
      if (!Number.isInteger(limit) || limit < 1 || limit > VIDEO_LIST_MAX_LIMIT) return sendError(reply, 400, 'bad_request', `limit must be an integer from 1 to ${VIDEO_LIST_MAX_LIMIT}`);
    }
    if (cursor !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(cursor)) return sendError(reply, 400, 'bad_request', 'invalid cursor');
    const rows = await listVideosWithThumbnails(deps.db, session.userId, { ...(limit ? { limit } : {}), ...(cursor ? { cursor } : {}) });
    const pageSize = limit ?? VIDEO_LIST_DEFAULT_LIMIT;
    const body: VideoListBody = {
      videos: rows.map((v) => ({
        id: v.id,
        url: `/api/${v.s3Key}`,
        title: v.title,
        contentType: v.contentType,
        sizeBytes: Number(v.sizeBytes),
        visibility: v.visibility,
        createdAt: v.createdAt.toISOString(),
        thumbnails: v.thumbnails.map((t) => ({ key: t.s3Key, width: t.width, height: t.height, offsetSeconds: t.offsetSeconds, durationSeconds: t.durationSeconds, codec: t.codec })),
      })),
      // A full page may have a next one; a short page is the last.
      nextCursor: rows.length > 0 && rows.length >= pageSize ? rows[rows.length - 1]!.id : null,
    };
    return reply.send(body);
  });
}
