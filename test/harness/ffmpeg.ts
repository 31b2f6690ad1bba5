// Test videos made at test time with FFmpeg's lavfi test source (no binary fixtures in git),
// plus a corrupt "video" and a FIFO that never delivers data (a hung input).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from './process.ts';

const HINT = 'apt-get install -y ffmpeg';

/** Fails with install advice when ffmpeg/ffprobe are missing. */
export function requireFfmpeg(): { ffmpeg: string; ffprobe: string } {
  return { ffmpeg: requireBinary('ffmpeg', HINT), ffprobe: requireBinary('ffprobe', HINT) };
}

export interface TestVideo {
  path: string;
  seconds: number;
  width: number;
  height: number;
  codec: 'h264' | 'mpeg4';
}

/** Encodes a small real video (testsrc pattern) into `dir`. */
export function makeTestVideo(dir: string, opts: Partial<Omit<TestVideo, 'path'>> & { name?: string } = {}): TestVideo {
  const { ffmpeg } = requireFfmpeg();
  const v: TestVideo = { seconds: opts.seconds ?? 2, width: opts.width ?? 320, height: opts.height ?? 240, codec: opts.codec ?? 'h264', path: join(dir, opts.name ?? 'test.mp4') };
  const encoder = v.codec === 'h264' ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'] : ['-c:v', 'mpeg4'];
  const r = spawnSync(
    ffmpeg,
    ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=duration=${v.seconds}:size=${v.width}x${v.height}:rate=25`, ...encoder, '-movflags', '+faststart', v.path],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (r.status !== 0) throw new Error(`ffmpeg could not make a test video: ${r.stderr || r.error?.message}`);
  return v;
}

/**
 * A file named like a video that holds fixed text: ffprobe fails with "Invalid data found". Not
 * random bytes: now and then ffprobe took random data for some other container and the worker
 * answered "ffmpeg probe found no video stream" instead (seen once in a clean-clone CI run).
 */
export function makeCorruptVideo(dir: string, name = 'corrupt.mp4'): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.from('this is not a video file. '.repeat(2600)).subarray(0, 64 * 1024));
  return path;
}

/** A FIFO with no writer: FFmpeg opening it blocks forever (a hung input). */
export function makeFifo(dir: string, name = 'hung.mp4'): string {
  const path = join(dir, name);
  const r = spawnSync(requireBinary('mkfifo', 'apt-get install -y coreutils'), [path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr}`);
  return path;
}
