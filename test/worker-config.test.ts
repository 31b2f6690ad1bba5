// video-worker configuration: defaults from src/signals, overrides from the environment, and
// errors that name the variable.
import { describe, expect, it } from 'vitest';
import { DEFAULT_PORTS, FFMPEG_TIMEOUT_MS, THUMBNAIL_JOB_TIMEOUT_MS, WORKER_CONCURRENCY, WORKER_SHUTDOWN_GRACE_MS } from '../src/signals/index.ts';
import { loadWorkerConfig } from '../src/worker/config.ts';

const creds = { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' };

describe('loadWorkerConfig', () => {
  it('defaults to the signals values and the worker metrics port 9465', () => {
    const c = loadWorkerConfig(creds);
    expect(c.metricsPort).toBe(DEFAULT_PORTS.workerMetrics);
    expect(c.metricsPort).toBe(9465);
    expect(c.jobTimeoutMs).toBe(THUMBNAIL_JOB_TIMEOUT_MS);
    expect(c.ffmpegTimeoutMs).toBe(FFMPEG_TIMEOUT_MS);
    expect(c.concurrency).toBe(WORKER_CONCURRENCY);
    expect(c.shutdownGraceMs).toBe(WORKER_SHUTDOWN_GRACE_MS);
    expect(c.s3.bucket).toBe('videos');
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
  });

  it('reads overrides from the environment', () => {
    const c = loadWorkerConfig({ ...creds, METRICS_PORT: '19465', WORKER_CONCURRENCY: '2', THUMBNAIL_JOB_TIMEOUT_MS: '5000', S3_ENDPOINT: 'http://minio:9000', S3_BUCKET: 'media' });
    expect(c).toMatchObject({ metricsPort: 19465, concurrency: 2, jobTimeoutMs: 5000, s3: { endpoint: 'http://minio:9000', bucket: 'media' } });
  });

  it('names the variable that is missing or malformed', () => {
    expect(() => loadWorkerConfig({ AWS_SECRET_ACCESS_KEY: 'x' })).toThrow(/AWS_ACCESS_KEY_ID is required/);
    expect(() => loadWorkerConfig({ ...creds, WORKER_CONCURRENCY: '0' })).toThrow(/WORKER_CONCURRENCY must be an integer >= 1/);
    expect(() => loadWorkerConfig({ ...creds, FFMPEG_TIMEOUT_MS: 'soon' })).toThrow(/FFMPEG_TIMEOUT_MS/);
  });
});
