// video-worker configuration from the environment; errors name the variable.
import { tmpdir } from 'node:os';
import {
  DEFAULT_PORTS,
  FFMPEG_KILL_GRACE_MS,
  FFMPEG_TIMEOUT_MS,
  THUMBNAIL_JOB_TIMEOUT_MS,
  WORKER_CONCURRENCY,
  WORKER_SHUTDOWN_GRACE_MS,
} from '../signals/index.ts';
import type { S3Config } from '../lib/s3.ts';

export interface WorkerConfig {
  redisUrl: string;
  s3: S3Config;
  metricsPort: number;
  metricsHost: string;
  concurrency: number;
  jobTimeoutMs: number;
  ffmpegTimeoutMs: number;
  ffmpegKillGraceMs: number;
  shutdownGraceMs: number;
  /** Where downloads and thumbnails are staged (one temp dir per job, removed after it). */
  workDir: string;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return {
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    s3: {
      ...(env.S3_ENDPOINT ? { endpoint: env.S3_ENDPOINT } : {}),
      region: env.S3_REGION || 'us-east-1',
      bucket: env.S3_BUCKET || 'videos',
      accessKeyId: required(env, 'AWS_ACCESS_KEY_ID'),
      secretAccessKey: required(env, 'AWS_SECRET_ACCESS_KEY'),
    },
    metricsPort: int(env, 'METRICS_PORT', DEFAULT_PORTS.workerMetrics),
    metricsHost: env.METRICS_HOST || env.HOST || '127.0.0.1',
    concurrency: int(env, 'WORKER_CONCURRENCY', WORKER_CONCURRENCY, 1),
    jobTimeoutMs: int(env, 'THUMBNAIL_JOB_TIMEOUT_MS', THUMBNAIL_JOB_TIMEOUT_MS, 1),
    ffmpegTimeoutMs: int(env, 'FFMPEG_TIMEOUT_MS', FFMPEG_TIMEOUT_MS, 1),
    ffmpegKillGraceMs: int(env, 'FFMPEG_KILL_GRACE_MS', FFMPEG_KILL_GRACE_MS),
    shutdownGraceMs: int(env, 'WORKER_SHUTDOWN_GRACE_MS', WORKER_SHUTDOWN_GRACE_MS),
    workDir: env.WORKER_TMP_DIR || tmpdir(),
  };
}
