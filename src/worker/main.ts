// video-worker entry point (`npm run start:worker`): consumes thumbnail jobs, serves /metrics on
// METRICS_PORT (default 9465). Telemetry is preloaded by `node --import ./dist/telemetry/register.js`
// (OTEL_SERVICE_NAME=video-worker); on SIGTERM the registered hook closes the worker gracefully
// (active job finished or requeued) before spans are flushed.
import type { DbHandle } from '../lib/db.ts';
import { createS3Store } from '../lib/s3.ts';
import { DEFAULT_ENVIRONMENT, ENVIRONMENTS, SERVICE_WORKER, type DeploymentEnvironment } from '../signals/index.ts';
import { createLogger, setDefaultLabels } from '../telemetry/index.ts';
import { startMetricsServer, type MetricsServer } from '../telemetry/metrics-server.ts';
import { onShutdown, runShutdownHooks } from '../telemetry/shutdown.ts';
import { loadWorkerConfig } from './config.ts';
import type { RecordThumbnail } from './record.ts';
import { createThumbnailWorker } from './thumbnail-worker.ts';

const log = createLogger(SERVICE_WORKER);

async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  // Without the preloaded SDK (OTEL_SDK_DISABLED baseline) the metrics still carry these labels.
  const env = process.env.DEPLOYMENT_ENVIRONMENT as DeploymentEnvironment | undefined;
  setDefaultLabels(SERVICE_WORKER, env && ENVIRONMENTS.includes(env) ? env : DEFAULT_ENVIRONMENT);
  const s3 = createS3Store(config.s3);
  // Thumbnails are recorded in PostgreSQL when a database is configured (compose does); Prisma
  // is only loaded then.
  let database: DbHandle | undefined;
  let recordThumbnail: RecordThumbnail | undefined;
  if (process.env.DATABASE_URL) {
    const [{ createDb }, { createThumbnailRecorder }] = await Promise.all([import('../lib/db.ts'), import('./record.ts')]);
    database = createDb(process.env.DATABASE_URL, { logger: log });
    recordThumbnail = createThumbnailRecorder(database.db);
  }
  const thumbnails = createThumbnailWorker({
    redisUrl: config.redisUrl,
    s3,
    concurrency: config.concurrency,
    jobTimeoutMs: config.jobTimeoutMs,
    ffmpegTimeoutMs: config.ffmpegTimeoutMs,
    ffmpegKillGraceMs: config.ffmpegKillGraceMs,
    shutdownGraceMs: config.shutdownGraceMs,
    workDir: config.workDir,
    ...(recordThumbnail ? { recordThumbnail } : {}),
  });
  // Metrics are served even with OTEL_SDK_DISABLED=true (like video-api): queue depth is not telemetry overhead.
  const metrics: MetricsServer = await startMetricsServer(config.metricsPort, config.metricsHost);
  onShutdown(async () => {
    log.info('shutting down: finishing or requeueing the active job');
    await thumbnails.close();
    await metrics.close();
    await database?.close();
    s3.destroy();
    log.info('worker closed');
  });
  // The telemetry bootstrap installs the SIGTERM/SIGINT handler that runs the hooks; without it
  // (OTEL_SDK_DISABLED, or started without --import) the worker installs its own.
  if (process.listenerCount('SIGTERM') === 0) {
    const stop = (): void => {
      void runShutdownHooks(config.shutdownGraceMs + 1000).then(() => process.exit(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  }
  await thumbnails.worker.waitUntilReady();
  log.info({ queue: thumbnails.queue.name, metrics: metrics.url, concurrency: config.concurrency }, 'worker ready');
}

main().catch((err: unknown) => {
  log.fatal({ err: (err as Error).message }, 'worker failed to start');
  process.exit(1);
});
