// video-api entry point: `npm start` (node --import ./dist/telemetry/register.js dist/api/main.js).
// The SDK is already running (preloaded); this file listens on HOST:PORT, serves /metrics on
// METRICS_HOST:METRICS_PORT and registers the close hooks run on SIGTERM/SIGINT.
import { SERVICE_API } from '../signals/index.ts';
import { createLogger, setDefaultLabels } from '../telemetry/index.ts';
import { startMetricsServer } from '../telemetry/metrics-server.ts';
import { onShutdown } from '../telemetry/shutdown.ts';
import { buildApp } from './app.ts';
import { ConfigError, loadApiConfig } from './config.ts';

const logger = createLogger(SERVICE_API);

async function main(): Promise<void> {
  const config = loadApiConfig(process.env);
  // Without the preloaded SDK (OTEL_SDK_DISABLED baseline) the metrics still carry these labels.
  setDefaultLabels(SERVICE_API, config.environment);
  const app = await buildApp(config, { logger });
  const metrics = await startMetricsServer(config.metricsPort, config.metricsHost);
  onShutdown(() => metrics.close());
  onShutdown(() => app.close());
  await app.listen({ host: config.host, port: config.port });
  logger.info({ host: config.host, port: config.port, metrics: metrics.url, environment: config.environment }, 'video-api listening');
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) logger.fatal({ variable: err.variable }, `invalid configuration: ${err.message}`);
  else logger.fatal({ err }, 'video-api failed to start');
  process.exitCode = 1;
  // Let the logger flush, then exit even if handles (Redis reconnects) are open.
  setTimeout(() => process.exit(1), 100).unref();
});
