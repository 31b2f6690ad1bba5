// GET /healthz (liveness: the process answers) and GET /readyz (S3 bucket and Redis reachable;
// 503 naming the dependency that failed).
import type { FastifyInstance } from 'fastify';
import { READINESS_TIMEOUT_MS, ROUTES, type ReadinessCheck } from '../../signals/index.ts';
import type { S3Store } from '../../lib/s3.ts';
import { pingRedis, type Redis } from '../../lib/redis.ts';

export interface HealthDeps {
  s3: S3Store;
  redis: Redis;
}

export interface ReadinessBody {
  status: 'ready' | 'unavailable';
  checks: Record<ReadinessCheck, 'ok' | string>;
}

async function check(fn: () => Promise<unknown>): Promise<'ok' | string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${READINESS_TIMEOUT_MS} ms`)), READINESS_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (err) {
    const e = err as Error & { name?: string };
    return `error: ${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message || 'failed'}`;
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  app.get(ROUTES.healthz, { config: { routeClass: 'internal' } }, async () => ({ status: 'ok' }));

  app.get(ROUTES.readyz, { config: { routeClass: 'internal' } }, async (_request, reply) => {
    const [s3, redis] = await Promise.all([
      check(() => deps.s3.headBucket()),
      check(async () => {
        if (!(await pingRedis(deps.redis))) throw new Error('unexpected PING reply');
      }),
    ]);
    const ready = s3 === 'ok' && redis === 'ok';
    const body: ReadinessBody = { status: ready ? 'ready' : 'unavailable', checks: { s3, redis } };
    return reply.code(ready ? 200 : 503).send(body);
  });
}
