// Redis connection for the API's producer side (BullMQ queue, readiness ping). Fails fast: with
// the offline queue disabled, a command while Redis is down errors at once instead of waiting
// for a reconnect, so an upload answers 503 in milliseconds rather than hanging.
import { Redis } from 'ioredis';
import { REDIS_COMMAND_TIMEOUT_MS, REDIS_CONNECT_TIMEOUT_MS, REDIS_RECONNECT_MAX_DELAY_MS } from '../signals/index.ts';
// ioredis leaves String.prototype in V8's dictionary mode; this import restores it (see the module).
import './fast-string-prototype.ts';

export type { Redis };

export function createRedis(url: string, onError: (err: Error) => void = () => {}): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    // One attempt per command: the caller decides (503) rather than ioredis retrying silently.
    maxRetriesPerRequest: 1,
    // Keep reconnecting in the background (readiness recovers when Redis comes back).
    retryStrategy: (times) => Math.min(times * 200, REDIS_RECONNECT_MAX_DELAY_MS),
  });
  // Without a listener ioredis logs every failed reconnect as an unhandled error event.
  redis.on('error', onError);
  return redis;
}

/** PING with the command timeout; resolves true when Redis answers PONG. */
export async function pingRedis(redis: Redis): Promise<boolean> {
  return (await redis.ping()) === 'PONG';
}
