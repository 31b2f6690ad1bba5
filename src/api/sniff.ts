// Video container detection from the first bytes of an upload (magic numbers), so the stored
// content type never comes from the client. Pure.
import { VIDEO_FORMATS, type VideoExtension } from '../signals/index.ts';

export interface SniffResult {
  extension: VideoExtension;
  contentType: (typeof VIDEO_FORMATS)[VideoExtension];
}

/** Bytes needed for a decision (EBML DocType is within the first few dozen bytes). */
export const SNIFF_BYTES = 64;

/** ISO-BMFF brands that are audio or still images, not video. */
const NON_VIDEO_BRANDS = new Set(['M4A ', 'M4B ', 'M4P ', 'heic', 'heix', 'mif1', 'msf1', 'avif', 'crx ']);

const ascii = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));

/** The container of `head` (at least SNIFF_BYTES, or the whole file if shorter), or null. */
export function sniffVideo(head: Uint8Array): SniffResult | null {
  // ISO base media (MP4, MOV): [size:4]['ftyp'][major brand:4]
  if (head.length >= 12 && ascii(head, 4, 8) === 'ftyp') {
    const brand = ascii(head, 8, 12);
    if (NON_VIDEO_BRANDS.has(brand)) return null;
    return brand === 'qt  ' ? { extension: 'mov', contentType: VIDEO_FORMATS.mov } : { extension: 'mp4', contentType: VIDEO_FORMATS.mp4 };
  }
  // Matroska / WebM: EBML header 1A 45 DF A3, DocType "webm" or "matroska".
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) {
    const text = ascii(head, 4, Math.min(head.length, SNIFF_BYTES));
    if (text.includes('webm')) return { extension: 'webm', contentType: VIDEO_FORMATS.webm };
    if (text.includes('matroska')) return { extension: 'mkv', contentType: VIDEO_FORMATS.mkv };
    return null;
  }
  // AVI: 'RIFF' [size:4] 'AVI '
  if (head.length >= 12 && ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'AVI ') {
    return { extension: 'avi', contentType: VIDEO_FORMATS.avi };
  }
  return null;
}

/** Format (extension) of a stored video's file name, or null if not a video extension. */
export function formatOfFilename(filename: string): VideoExtension | null {
  const dot = filename.lastIndexOf('.');
  const ext = dot >= 0 ? filename.slice(dot + 1).toLowerCase() : '';
  return ext in VIDEO_FORMATS ? (ext as VideoExtension) : null;
}

/**
 * The client's file name reduced to something safe to keep as metadata: last path segment,
 * no control characters, at most 200 characters, percent-encoded (S3 metadata is ASCII).
 */
export function sanitiseClientFilename(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const last = name.split(/[/\\]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = last.replace(/[\u0000-\u001f\u007f]/g, '').replace(/^\.+/, '').slice(0, 200);
  return clean ? encodeURIComponent(clean) : undefined;
}

/** The extension of the client's file name, lower-case alphanumeric, at most 8 chars. */
export function sanitisedExtension(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const last = name.split(/[/\\]/).pop() ?? '';
  const dot = last.lastIndexOf('.');
  if (dot < 0) return undefined;
  const ext = last.slice(dot + 1).toLowerCase();
  return /^[a-z0-9]{1,8}$/.test(ext) ? ext : undefined;
}
