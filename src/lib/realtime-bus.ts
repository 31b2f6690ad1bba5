// The realtime bus: video-worker (and any video-api replica) publishes user-facing events on one
// Redis pub/sub channel; every video-api process subscribes and emits them to the owner's sockets.
// Each message carries the publisher's W3C trace context, so the API's emit span can LINK to the
// job's trace (a link, not a parent: one job's event may fan out to many sockets, long after).
import { context, propagation, SpanKind, trace, type Link } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import {
  REALTIME_CHANNEL,
  RT_ATTR,
  RT_SERVER_EVENTS,
  rtPublishSpanName,
  type RealtimeEvent,
  type RealtimeMessage,
  type RealtimePayloads,
} from '../signals/index.ts';
import { traceAsync } from '../telemetry/index.ts';

/** Publishes `event` for `ownerId` on the channel, inside a PRODUCER span whose context travels along. */
export function publishRealtime<E extends RealtimeEvent>(
  redis: Redis,
  event: E,
  ownerId: string,
  payload: RealtimePayloads[E],
  channel: string = REALTIME_CHANNEL,
): Promise<number> {
  return traceAsync(
    rtPublishSpanName(event),
    async () => {
      const otel: Record<string, string> = {};
      propagation.inject(context.active(), otel);
      const message: RealtimeMessage<E> = { event, ownerId, payload, otel };
      return redis.publish(channel, JSON.stringify(message));
    },
    { [RT_ATTR.event]: event, 'messaging.system': 'redis', 'messaging.destination.name': channel, 'messaging.operation.type': 'send' },
    { kind: SpanKind.PRODUCER },
  );
}

/** The span link to a message's publisher (none when it carried no sampled context). */
export function linkFromMessage(message: Pick<RealtimeMessage, 'otel'>): Link[] {
  const ctx = trace.getSpanContext(propagation.extract(context.active(), message.otel ?? {}));
  return ctx && trace.isSpanContextValid(ctx) ? [{ context: ctx }] : [];
}

const knownEvents = new Set<string>(RT_SERVER_EVENTS);

/** Parses a channel message; undefined for anything malformed (never throws on foreign input). */
export function parseRealtimeMessage(raw: string): RealtimeMessage | undefined {
  try {
    const m = JSON.parse(raw) as Partial<RealtimeMessage>;
    if (!m || typeof m !== 'object' || typeof m.event !== 'string' || !knownEvents.has(m.event)) return undefined;
    if (typeof m.ownerId !== 'string' || !m.payload || typeof m.payload !== 'object') return undefined;
    if (typeof (m.payload as { videoId?: unknown }).videoId !== 'string') return undefined;
    return { event: m.event, ownerId: m.ownerId, payload: m.payload, otel: m.otel && typeof m.otel === 'object' ? m.otel : {} } as RealtimeMessage;
  } catch {
    return undefined;
  }
}

export interface RealtimeSubscription {
  close(): Promise<void>;
}

/**
 * Subscribes `handler` to the channel on a dedicated connection (a subscribed ioredis connection
 * cannot send other commands), duplicated from `redis` but patient: it queues the SUBSCRIBE until
 * Redis answers and re-subscribes after reconnects. Resolves once subscribed, or after
 * `readyTimeoutMs` when Redis is down (the subscription then starts when Redis comes back), so
 * an API process never fails to start because of the realtime channel.
 */
export async function subscribeRealtime(
  redis: Redis,
  handler: (message: RealtimeMessage) => void,
  channel: string = REALTIME_CHANNEL,
  readyTimeoutMs = 2_000,
): Promise<RealtimeSubscription> {
  const sub = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined, autoResubscribe: true });
  sub.on('error', () => {
    // ioredis reconnects by itself; errors are visible on the main connection and in readyz.
  });
  sub.on('message', (ch: string, raw: string) => {
    if (ch !== channel) return;
    const message = parseRealtimeMessage(raw);
    if (message) handler(message);
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    sub.subscribe(channel).catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, readyTimeoutMs);
    }),
  ]);
  clearTimeout(timer);
  return {
    close: async () => {
      // With Redis down the unsubscribe would sit in the offline queue and hang app.close():
      // only say goodbye on a live connection; disconnect() drops the subscription either way.
      if (sub.status === 'ready') await sub.unsubscribe(channel).catch(() => undefined);
      sub.disconnect();
    },
  };
}
