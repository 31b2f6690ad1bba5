// Realtime updates for uploaders: Socket.io on the API's HTTP server. A client connects with its
// session token (handshake `auth.token`, or the Bearer header / `session` cookie), `subscribe`s
// to its own videos, and receives `upload.progress`, `thumbnail.ready` and `thumbnail.failed`.
// The worker publishes those on a Redis channel (src/lib/realtime-bus.ts); every API process
// relays them to the subscribed sockets of the video's owner.
//
// Tracing is explicit rather than @opentelemetry/instrumentation-socket.io: that instrumentation
// makes a span per emit/receive named after rooms and events but knows nothing of auth outcomes,
// ownership checks or the worker's trace; here three spans say what matters:
// - `realtime.connection`: the handshake and its auth outcome (continues a `traceparent` the
//   client sends in its handshake auth or headers);
// - `realtime.subscribe`: one subscribe request and its outcome (ok / forbidden / not_found);
// - `realtime.emit <event>`: one relayed event, LINKED to the worker's publish span (a link, not
//   a parent: the job's trace is finished by then and one event may fan out to many sockets).
// Metrics: connected clients (gauge), connection attempts by outcome, messages by direction and event.
import { context, propagation, ROOT_CONTEXT, SpanKind, type Context } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Server, type Socket } from 'socket.io';
import { linkFromMessage, subscribeRealtime, type RealtimeSubscription } from '../lib/realtime-bus.ts';
import { isNotFound, type S3Store } from '../lib/s3.ts';
import {
  ATTR,
  META,
  REALTIME_CHANNEL,
  REALTIME_PATH,
  RT_ATTR,
  RT_CONNECTED_CLIENTS,
  RT_CONNECTED_CLIENTS_HELP,
  RT_CONNECTIONS,
  RT_CONNECTIONS_HELP,
  RT_CONNECTION_OUTCOMES,
  RT_LABELS,
  RT_MESSAGES,
  RT_MESSAGES_HELP,
  RT_SERVER_EVENTS,
  RT_SUBSCRIBE,
  RT_UNSUBSCRIBE,
  SPAN_RT_CONNECTION,
  SPAN_RT_SUBSCRIBE,
  VIDEO_KEY_PREFIX,
  rtEmitSpanName,
  videoRoom,
  type RealtimeMessage,
  type SubscribeOutcome,
} from '../signals/index.ts';
import { counter, gauge, getTracer, recordError, traceAsync } from '../telemetry/index.ts';
import { tokenFromRequest, userHash, verifyToken } from './auth.ts';

export interface RealtimeDeps {
  /** Redis connection to duplicate for the channel subscription. */
  redis: Redis;
  sessionSecret: string;
  /** Resolves a video's owner (undefined: no such video). Default: the `owner` metadata of `videos/<id>.*` in S3. */
  videoOwner?: (videoId: string) => Promise<string | undefined>;
  s3?: S3Store;
  channel?: string;
  /** CORS origins allowed to open sockets: `*` or a comma-separated list (default: same origin only). */
  corsOrigin?: string;
}

export interface Realtime {
  io: Server;
  /** Relays one bus message to the owner's subscribed sockets; returns how many received it. */
  relay(message: RealtimeMessage): Promise<number>;
  close(): Promise<void>;
}

interface SocketData {
  userId: string;
}

export type SubscribeAck = { ok: true; videoId: string } | { ok: false; error: SubscribeOutcome };

const connectedSockets = new Set<Socket>();
gauge(RT_CONNECTED_CLIENTS, RT_CONNECTED_CLIENTS_HELP, [], function collect() {
  this.set(connectedSockets.size);
});
const connections = counter(RT_CONNECTIONS, RT_CONNECTIONS_HELP, [RT_LABELS.outcome]);
const messages = counter(RT_MESSAGES, RT_MESSAGES_HELP, [RT_LABELS.direction, RT_LABELS.event]);
for (const outcome of RT_CONNECTION_OUTCOMES) connections.inc({ [RT_LABELS.outcome]: outcome }, 0);
for (const event of RT_SERVER_EVENTS) messages.inc({ [RT_LABELS.direction]: 'out', [RT_LABELS.event]: event }, 0);
for (const event of [RT_SUBSCRIBE, RT_UNSUBSCRIBE]) messages.inc({ [RT_LABELS.direction]: 'in', [RT_LABELS.event]: event }, 0);

const VIDEO_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** A trace context the client sent with its handshake (auth.traceparent or the traceparent header). */
function handshakeContext(socket: Socket): Context {
  const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
  const carrier: Record<string, string> = {};
  const header = socket.handshake.headers.traceparent;
  if (typeof auth.traceparent === 'string') carrier.traceparent = auth.traceparent;
  else if (typeof header === 'string') carrier.traceparent = header;
  return carrier.traceparent ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
}

function s3VideoOwner(s3: S3Store): (videoId: string) => Promise<string | undefined> {
  return async (videoId) => {
    const [obj] = (await s3.listObjects(`${VIDEO_KEY_PREFIX}${videoId}.`)).filter((o) => o.key.startsWith(`${VIDEO_KEY_PREFIX}${videoId}.`));
    if (!obj) return undefined;
    try {
      return (await s3.headObject(obj.key)).metadata[META.owner];
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
}

export async function attachRealtime(app: FastifyInstance, deps: RealtimeDeps): Promise<Realtime> {
  const videoOwner = deps.videoOwner ?? (deps.s3 ? s3VideoOwner(deps.s3) : undefined);
  if (!videoOwner) throw new Error('attachRealtime needs deps.videoOwner or deps.s3');
  const io = new Server<Record<string, never>, Record<string, never>, Record<string, never>, SocketData>(app.server, {
    path: REALTIME_PATH,
    serveClient: false,
    ...(deps.corsOrigin ? { cors: { origin: deps.corsOrigin === '*' ? '*' : deps.corsOrigin.split(',').map((o) => o.trim()) } } : {}),
  });

  io.use((socket, next) => {
    void context.with(handshakeContext(socket), () =>
      traceAsync(
        SPAN_RT_CONNECTION,
        async (span) => {
          const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
          const token = typeof auth.token === 'string' ? auth.token : tokenFromRequest(socket.request);
          const user = token ? verifyToken(token, deps.sessionSecret) : null;
          const outcome = user ? 'accepted' : 'unauthorized';
          connections.inc({ [RT_LABELS.outcome]: outcome });
          span.setAttribute(RT_ATTR.outcome, outcome);
          span.setAttribute(ATTR.hasSession, token !== undefined);
          if (!user) {
            next(new Error('unauthorized'));
            return;
          }
          span.setAttribute(ATTR.userHash, userHash(user.userId));
          socket.data.userId = user.userId;
          next();
        },
        { [RT_ATTR.socketId]: socket.id },
        { kind: SpanKind.SERVER },
      ),
    ).catch((err: unknown) => next(err instanceof Error ? err : new Error(String(err))));
  });

  io.on('connection', (socket) => {
    connectedSockets.add(socket);
    socket.once('disconnect', () => connectedSockets.delete(socket));

    socket.on(RT_SUBSCRIBE as never, (payload: unknown, ack?: (a: SubscribeAck) => void) => {
      messages.inc({ [RT_LABELS.direction]: 'in', [RT_LABELS.event]: RT_SUBSCRIBE });
      const videoId = (payload as { videoId?: unknown } | null)?.videoId;
      void traceAsync(
        SPAN_RT_SUBSCRIBE,
        async (span): Promise<SubscribeAck> => {
          let outcome: SubscribeOutcome;
          if (typeof videoId !== 'string' || !VIDEO_ID.test(videoId)) outcome = 'bad_request';
          else {
            span.setAttribute(ATTR.videoId, videoId);
            const owner = await videoOwner(videoId);
            outcome = owner === undefined ? 'not_found' : owner === socket.data.userId ? 'ok' : 'forbidden';
          }
          span.setAttribute(RT_ATTR.outcome, outcome);
          if (outcome !== 'ok') return { ok: false, error: outcome };
          await socket.join(videoRoom(videoId as string));
          return { ok: true, videoId: videoId as string };
        },
        { [RT_ATTR.socketId]: socket.id, [ATTR.userHash]: userHash(socket.data.userId) },
        { kind: SpanKind.SERVER },
      ).then(
        (a) => ack?.(a),
        () => ack?.({ ok: false, error: 'not_found' }),
      );
    });

    socket.on(RT_UNSUBSCRIBE as never, (payload: unknown, ack?: (a: { ok: boolean }) => void) => {
      messages.inc({ [RT_LABELS.direction]: 'in', [RT_LABELS.event]: RT_UNSUBSCRIBE });
      const videoId = (payload as { videoId?: unknown } | null)?.videoId;
      if (typeof videoId === 'string') void socket.leave(videoRoom(videoId));
      ack?.({ ok: typeof videoId === 'string' });
    });
  });

  async function relay(message: RealtimeMessage): Promise<number> {
    const room = videoRoom(message.payload.videoId);
    const attributes = { [RT_ATTR.event]: message.event, [RT_ATTR.room]: room, [ATTR.videoId]: message.payload.videoId };
    // A new trace per relayed event, linked to the publisher (traceAsync has no links option).
    return getTracer().startActiveSpan(
      rtEmitSpanName(message.event),
      { kind: SpanKind.PRODUCER, attributes, links: linkFromMessage(message) },
      ROOT_CONTEXT,
      async (span) => {
        try {
          // Only the owner's sockets, even if the room were joined some other way.
          const sockets = (await io.in(room).fetchSockets()).filter((s) => s.data.userId === message.ownerId);
          for (const s of sockets) s.emit(message.event as never, message.payload as never);
          if (sockets.length) messages.inc({ [RT_LABELS.direction]: 'out', [RT_LABELS.event]: message.event }, sockets.length);
          span.setAttribute(RT_ATTR.recipients, sockets.length);
          return sockets.length;
        } catch (err) {
          recordError(span, err);
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }

  const subscription: RealtimeSubscription = await subscribeRealtime(
    deps.redis,
    (message) => {
      void relay(message).catch(() => undefined);
    },
    deps.channel ?? REALTIME_CHANNEL,
  );

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      // Disconnect the websockets first: an HTTP server does not finish closing while they are open.
      io.disconnectSockets(true);
      io.engine.close();
      await subscription.close();
    })();
    return closed;
  };
  app.addHook('preClose', async () => {
    await close();
  });
  return { io, relay, close };
}
