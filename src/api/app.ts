// The video-api Fastify application (not listening: main.ts listens, tests inject or listen on
// a free port). Instrumented before any route is registered, so every route gets its SERVER
// span `<METHOD> <route template>`, its request-duration series and the trace response headers.
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, type RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import { EVENT_FAULT_INJECTED, ROUTES, SERVER_TIMING_HEADER, TIMING_ALLOW_ORIGIN_HEADER, TRACE_RESPONSE_HEADER, type RouteClass } from '../signals/index.ts';
import { addSpanEvent, createLogger } from '../telemetry/index.ts';
import { instrumentFastify } from '../telemetry/http-server.ts';
import { createS3Store, type S3Store } from '../lib/s3.ts';
import { createRedis, type Redis } from '../lib/redis.ts';
import { createThumbnailQueue, type ThumbnailQueue } from '../lib/queue.ts';
import type { ApiConfig } from './config.ts';
import { sendError } from './errors.ts';
import { sessionOf } from './session.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { uploadRoutes } from './routes/upload.ts';
import { registerVideoRoutes } from './routes/videos.ts';
import { attachRealtime } from './realtime.ts';
import { registerCrmWebhook } from './routes/webhooks.ts';
import { registerVideoList } from './routes/video-list.ts';
import { createDb, type Db } from '../lib/db.ts';
import { createCrmClient, loadCrmConfig, type CrmClient } from '../lib/crm.ts';

export interface AppDeps {
  s3?: S3Store;
  redis?: Redis;
  queue?: ThumbnailQueue;
  /** Database (defaults to one built from DATABASE_URL when it is set). */
  db?: Db;
  /** CRM client (defaults to one built from CRM_* variables when they are set). */
  crm?: CrmClient | null;
  logger?: Logger;
  /** Instrument the app (default true; a no-op anyway when OTEL_SDK_DISABLED=true). */
  instrument?: boolean;
  /** Called for every route as it is registered (the trace-coverage test enumerates them). */
  onRoute?: (route: RouteOptions) => void;
}

export interface AppServices {
  config: ApiConfig;
  s3: S3Store;
  redis: Redis;
  queue: ThumbnailQueue;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: AppServices;
  }
  interface FastifyContextConfig {
    /** Latency-objective group of the route (read by instrumentFastify; setRouteClass overrides). */
    routeClass?: RouteClass;
  }
}

export async function buildApp(config: ApiConfig, deps: AppDeps = {}): Promise<FastifyInstance> {
  const logger = deps.logger ?? createLogger('video-api');
  const app: FastifyInstance = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    // One log line per request is the http span's job; request logs would double the cost.
    logController: new LogController({ disableRequestLogging: true }),
    // HEAD is not part of the API; an implicit HEAD route would be an untested duplicate.
    exposeHeadRoutes: false,
    // Close keep-alive sockets on app.close() (graceful shutdown must not wait for idle clients).
    forceCloseConnections: true,
    return503OnClosing: true,
  } satisfies FastifyServerOptions);

  if (deps.onRoute) app.addHook('onRoute', deps.onRoute);

  const s3 = deps.s3 ?? createS3Store(config.s3);
  const redis = deps.redis ?? createRedis(config.redisUrl, (err) => app.log.warn({ err: err.message }, 'redis connection error'));
  const queue = deps.queue ?? createThumbnailQueue(redis, (err) => app.log.warn({ err: err.message }, 'queue error'));
  app.decorate('services', { config, s3, redis, queue });
  app.addHook('onClose', async () => {
    if (!deps.queue) await queue.close().catch(() => undefined);
    if (!deps.redis) redis.disconnect();
    if (!deps.s3) s3.destroy();
  });

  if (deps.instrument !== false) {
    instrumentFastify(app, {
      // Always keep the trace of a video request without valid credentials (401s are what
      // someone debugging "the video does not play" needs); uploads are critical by route.
      critical: (request, route) => route === ROUTES.videoStream && sessionOf(request, config.sessionSecret).user === null,
    });
  }

  await app.register(cors, {
    origin: config.corsOrigin === '*' ? '*' : config.corsOrigin.split(',').map((s) => s.trim()),
    // Let browser code read the trace context of any response (plan 1.8).
    exposedHeaders: [TRACE_RESPONSE_HEADER, SERVER_TIMING_HEADER, 'content-range', 'accept-ranges', 'etag'],
    methods: ['GET', 'POST', 'PUT', 'OPTIONS'],
  });
  // A <video> element's range requests and <img> thumbnails are not fetch(): the page can only
  // read their trace context from Server-Timing, which browsers hide cross-origin unless the
  // response allows it. The value is the CORS origin list (timing only, no data).
  const timingAllowOrigin = config.corsOrigin === '*' ? '*' : config.corsOrigin.split(',').map((s) => s.trim()).join(', ');
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header(TIMING_ALLOW_ORIGIN_HEADER, timingAllowOrigin);
    done();
  });

  if (config.faultErrorRatio > 0 || config.faultLatencyMs > 0) {
    // Fault injection for the alert end-to-end tests (FAULT_ERROR_RATIO, FAULT_LATENCY_MS).
    app.log.warn({ errorRatio: config.faultErrorRatio, latencyMs: config.faultLatencyMs }, 'fault injection is ON for /api/*');
    app.addHook('onRequest', async (request, reply) => {
      if (!request.url.startsWith('/api/')) return;
      if (config.faultLatencyMs > 0) {
        addSpanEvent(EVENT_FAULT_INJECTED, { kind: 'latency', ms: config.faultLatencyMs });
        await new Promise((r) => setTimeout(r, config.faultLatencyMs));
      }
      if (config.faultErrorRatio > 0 && Math.random() < config.faultErrorRatio) {
        addSpanEvent(EVENT_FAULT_INJECTED, { kind: 'error' });
        return sendError(reply, 500, 'fault_injected', 'error injected by FAULT_ERROR_RATIO');
      }
    });
  }

  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]}`));
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status < 500) return sendError(reply, status, error.code ?? 'bad_request', error.message);
    request.log.error({ err: error }, 'request failed');
    // S3 SDK errors carry $metadata: the dependency failed, not us.
    if ((error as { $metadata?: unknown }).$metadata !== undefined) return sendError(reply, 502, 'storage_error', 'the storage backend failed');
    return sendError(reply, status, 'internal_error', 'internal error');
  });

  registerHealthRoutes(app, { s3, redis });
  registerVideoRoutes(app, { config, s3 });
  await app.register(uploadRoutes, { config, s3, queue, log: app.log });
  await attachRealtime(app, { redis, sessionSecret: config.sessionSecret, s3, corsOrigin: config.corsOrigin });
  registerDatabaseRoutes(app, config, deps);
  return app;
}

/**
 * The routes that need PostgreSQL (GET /api/videos, POST /api/webhooks/crm). Without
 * DATABASE_URL they are still registered (and traced) but answer 503 with the reason, so a
 * missing database is a clear error, not a 404.
 */
function registerDatabaseRoutes(app: FastifyInstance, config: ApiConfig, deps: AppDeps): void {
  let db = deps.db;
  if (!db && config.databaseUrl) {
    const handle = createDb(config.databaseUrl, { logger: app.log as unknown as Logger });
    db = handle.db;
    app.addHook('onClose', async () => handle.close().catch(() => undefined));
  }
  if (!db) {
    const unavailable = (_req: unknown, reply: Parameters<typeof sendError>[0]) =>
      sendError(reply, 503, 'database_unavailable', 'DATABASE_URL is not set: this route needs PostgreSQL');
    app.get(ROUTES.videoList, { config: { routeClass: 'api' } }, unavailable);
    app.post(ROUTES.crmWebhook, { config: { routeClass: 'webhook' } }, unavailable);
    return;
  }
  if (!config.crmWebhookSecret) app.log.warn('CRM_WEBHOOK_SECRET is not set: every CRM webhook will be rejected with 401');
  const crm = deps.crm !== undefined ? deps.crm : (() => {
    const cfg = loadCrmConfig();
    return cfg ? createCrmClient(cfg) : null;
  })();
  registerCrmWebhook(app, { db, crm, webhookSecret: config.crmWebhookSecret ?? '' });
  registerVideoList(app, { db, sessionSecret: config.sessionSecret });
}
