// Records a finished thumbnail in PostgreSQL (when DATABASE_URL is set) through the repository
// in src/lib/db.ts, so `GET /api/videos` lists videos with their thumbnails. The upload route
// does not write the video row today; the worker creates it (owner, key, type, size, visibility
// from the S3 object) the first time it records a thumbnail for it.
import { createVideo, markThumbnail, type Db } from '../lib/db.ts';

export interface ThumbnailRecord {
  videoId: string;
  /** From the object's `owner` metadata; needed only when the video row does not exist yet. */
  ownerId: string | undefined;
  videoKey: string;
  contentType: string;
  sizeBytes: number;
  visibility: 'private' | 'public';
  thumbnailKey: string;
  width: number;
  height: number;
  offsetSeconds: number;
  durationSeconds: number;
  codec: string;
}

export type RecordThumbnail = (r: ThumbnailRecord) => Promise<void>;

/** Prisma's error codes: P2003 foreign key (no such video), P2002 unique (a concurrent insert won). */
const code = (err: unknown): string | undefined => (err as { code?: string } | null)?.code;

export function createThumbnailRecorder(db: Db): RecordThumbnail {
  return async (r) => {
    const thumb = {
      videoId: r.videoId,
      s3Key: r.thumbnailKey,
      width: r.width,
      height: r.height,
      offsetSeconds: r.offsetSeconds,
      durationSeconds: r.durationSeconds,
      codec: r.codec,
    };
    try {
      await markThumbnail(db, thumb);
      return;
    } catch (err) {
      if (code(err) !== 'P2003') throw err;
    }
    if (!r.ownerId) throw new Error(`video ${r.videoId} has no database row and no owner metadata to create it`);
    await createVideo(db, { id: r.videoId, ownerId: r.ownerId, s3Key: r.videoKey, contentType: r.contentType, sizeBytes: r.sizeBytes, visibility: r.visibility }).catch(
      (err: unknown) => {
        if (code(err) !== 'P2002') throw err;
      },
    );
    await markThumbnail(db, thumb);
  };
}
