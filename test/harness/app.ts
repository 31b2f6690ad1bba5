// Starts video-api for tests and benchmarks, against a real s3rver and redis-server (started
// here unless given). Two modes:
// - 'inprocess' (default): buildApp() in this process, listening on 127.0.0.1:<free port>;
//   spans go to whatever SDK the test started (startTelemetry / test/harness/otel.ts).
// - 'process': `node [--import src/telemetry/register.ts] src/api/main.ts` as a child process
//   with env, stopped by PID; serves /metrics on its own free port (for live Prometheus checks).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/api/app.ts';
import { signToken } from '../../src/api/auth.ts';
import { loadApiConfig, type ApiConfig } from '../../src/api/config.ts';
import { SERVICE_API } from '../../src/signals/index.ts';
import { freePort, giveUpIfExited, startProcess, waitFor } from './process.ts';
import { startRedis, type RedisHandle } from './redis.ts';
import { startS3rver, type S3rverHandle } from './s3rver.ts';

export const TEST_SESSION_SECRET = 'test-session-secret-0123456789';

export interface StartedApp {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** /metrics URL: the child's metrics port, or undefined in-process (use the shared registry). */
  metricsUrl: string | undefined;
  config: ApiConfig;
  /** The Fastify instance (in-process mode only). */
  app: FastifyInstance | undefined;
  s3: S3rverHandle;
  redis: RedisHandle;
  /** A valid session token for `user`. */
  token: (user: string, ttlSeconds?: number) => string;
  /** Child process output so far (process mode). */
  output: () => string;
  /** Exit code of the child once it exited (process mode), else null. */
  exitCode: () => number | null;
  /** Stops the app, then the s3rver/redis this harness started (not those passed in). */
  stop: () => Promise<void>;
}

export interface StartAppOptions {
  mode?: 'inprocess' | 'process';
  /** Extra environment (overrides the defaults built from s3rver/redis). */
  env?: Record<string, string>;
  s3?: S3rverHandle;
  redis?: RedisHandle;
  deps?: AppDeps;
  /** process mode: preload src/telemetry/register.ts (default true when it exists). */
  preload?: boolean;
}

const root = fileURLToPath(new URL('../../', import.meta.url));

export async function startApp(opts: StartAppOptions = {}): Promise<StartedApp> {
  const ownS3 = !opts.s3;
  const ownRedis = !opts.redis;
  const s3 = opts.s3 ?? (await startS3rver());
  const redis = opts.redis ?? (await startRedis());
  const stopDeps = async (): Promise<void> => {
    if (ownS3) await s3.stop();
    if (ownRedis) await redis.stop();
  };
  const port = await freePort();
  const metricsPort = await freePort();
  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_REGION: s3.region,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    REDIS_URL: redis.url,
    SESSION_SECRET: TEST_SESSION_SECRET,
    DEPLOYMENT_ENVIRONMENT: 'development',
    ...opts.env,
  };
  const config = loadApiConfig(env);
  const token = (user: string, ttl?: number): string => signToken(user, config.sessionSecret, ttl);
  const url = `http://127.0.0.1:${port}`;

  if ((opts.mode ?? 'inprocess') === 'inprocess') {
    let app: FastifyInstance;
    try {
      app = await buildApp(config, opts.deps);
      await app.listen({ host: '127.0.0.1', port });
    } catch (err) {
      await stopDeps();
      throw err;
    }
    return {
      url,
      port,
      metricsUrl: undefined,
      config,
      app,
      s3,
      redis,
      token,
      output: () => '',
      exitCode: () => null,
      stop: async () => {
        // The servers this harness started are stopped even if closing the app fails.
        try {
          await app.close();
        } finally {
          await stopDeps();
        }
      },
    };
  }

  const register = `${root}src/telemetry/register.ts`;
  const preload = opts.preload ?? existsSync(register);
  const args = [...(preload ? ['--import', register] : []), `${root}src/api/main.ts`];
  const child = startProcess(process.execPath, args, {
    cwd: root,
    env: { ...process.env, OTEL_SERVICE_NAME: SERVICE_API, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...env },
  });
  try {
    await waitFor(
      async () => {
        giveUpIfExited(child.proc);
        return (await fetch(`${url}/healthz`)).ok;
      },
      30_000,
      `video-api on ${url}`,
    );
  } catch (err) {
    await child.stop();
    await stopDeps();
    throw new Error(`video-api did not start: ${(err as Error).message}\n${child.output()}`, { cause: err });
  }
  return {
    url,
    port,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    config,
    app: undefined,
    s3,
    redis,
    token,
    output: child.output,
    exitCode: () => child.proc.exitCode,
    stop: async () => {
      try {
        await child.stop();
      } finally {
        await stopDeps();
      }
    },
  };
}

/** Magic-byte headers of each container (enough for the upload's sniffing). */
const HEADERS = {
  mp4: Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom\0\0\x02\0isomiso2')]),
  mov: Buffer.concat([Buffer.from([0, 0, 0, 0x14]), Buffer.from('ftypqt  \0\0\x02\0qt  ')]),
  webm: Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84]), Buffer.from('webm')]),
  mkv: Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0xa3, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x88]), Buffer.from('matroska')]),
  avi: Buffer.concat([Buffer.from('RIFF'), Buffer.from([0, 0, 0, 0]), Buffer.from('AVI LIST')]),
} as const;

/**
 * A `size`-byte body that sniffs as `kind`, with deterministic content after the header
 * (byte i = i mod 251), so any range can be checked exactly.
 */
export function fakeVideo(size: number, kind: keyof typeof HEADERS = 'mp4'): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = i % 251;
  HEADERS[kind].copy(buf, 0, 0, Math.min(size, HEADERS[kind].length));
  return buf;
}
