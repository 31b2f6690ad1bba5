// Realtime (Socket.io on video-api) signals: event names, the Redis pub/sub channel the worker
// publishes on, span names and metrics.

/** Server -> client events. */
export const RT_UPLOAD_PROGRESS = 'upload.progress';
export const RT_THUMBNAIL_READY = 'thumbnail.ready';
export const RT_THUMBNAIL_FAILED = 'thumbnail.failed';
export const RT_SERVER_EVENTS = [RT_UPLOAD_PROGRESS, RT_THUMBNAIL_READY, RT_THUMBNAIL_FAILED] as const;
export type RealtimeEvent = (typeof RT_SERVER_EVENTS)[number];
/** Client -> server events (acknowledged). */
export const RT_SUBSCRIBE = 'subscribe';
export const RT_UNSUBSCRIBE = 'unsubscribe';
export const RT_CLIENT_EVENTS = [RT_SUBSCRIBE, RT_UNSUBSCRIBE] as const;

/** Socket.io path on the API's HTTP server (the Socket.io default). */
export const REALTIME_PATH = '/socket.io/';
/** Redis pub/sub channel from video-worker (and upload progress) to every video-api replica. */
export const REALTIME_CHANNEL = 'video-events';
/** Socket.io room of one video's subscribers. */
export const videoRoom = (videoId: string): string => `video:${videoId}`;

/** Payloads. */
export interface UploadProgressPayload {
  videoId: string;
  stage: 'uploading' | 'processing';
  bytes?: number;
  totalBytes?: number;
}
export interface ThumbnailReadyPayload {
  videoId: string;
  thumbnailUrl: string;
  duration: number;
  width: number;
  height: number;
}
export interface ThumbnailFailedPayload {
  videoId: string;
  error: string;
  attempt: number;
  final: boolean;
}
export interface RealtimePayloads {
  [RT_UPLOAD_PROGRESS]: UploadProgressPayload;
  [RT_THUMBNAIL_READY]: ThumbnailReadyPayload;
  [RT_THUMBNAIL_FAILED]: ThumbnailFailedPayload;
}
/** A message on REALTIME_CHANNEL: the event, the owner (who may receive it) and the publisher's trace context. */
export interface RealtimeMessage<E extends RealtimeEvent = RealtimeEvent> {
  event: E;
  ownerId: string;
  payload: RealtimePayloads[E];
  otel: Record<string, string>;
}

/** Span names. */
export const SPAN_RT_CONNECTION = 'realtime.connection';
export const SPAN_RT_SUBSCRIBE = 'realtime.subscribe';
export const rtEmitSpanName = (event: RealtimeEvent): string => `realtime.emit ${event}`;
export const rtPublishSpanName = (event: RealtimeEvent): string => `realtime.publish ${event}`;
export const RT_ATTR = {
  event: 'realtime.event',
  room: 'realtime.room',
  recipients: 'realtime.recipients',
  outcome: 'realtime.outcome',
  socketId: 'realtime.socket_id',
} as const;

/** Connected Socket.io clients (gauge). */
export const RT_CONNECTED_CLIENTS = 'socketio_connected_clients';
export const RT_CONNECTED_CLIENTS_HELP = 'Socket.io clients connected to this video-api process.';
/** Messages by direction (`in` from clients, `out` to clients) and event name (bounded). */
export const RT_MESSAGES = 'socketio_messages_total';
export const RT_MESSAGES_HELP = 'Socket.io messages by direction and event.';
/** Connection attempts by outcome (`accepted`, `unauthorized`). */
export const RT_CONNECTIONS = 'socketio_connections_total';
export const RT_CONNECTIONS_HELP = 'Socket.io connection attempts by outcome.';
export const RT_LABELS = { direction: 'direction', event: 'event', outcome: 'outcome' } as const;
export const RT_CONNECTION_OUTCOMES = ['accepted', 'unauthorized'] as const;
/** Subscribe acks: `ok`, `forbidden` (another user's video), `not_found`, `bad_request`. */
export const RT_SUBSCRIBE_OUTCOMES = ['ok', 'forbidden', 'not_found', 'bad_request'] as const;
export type SubscribeOutcome = (typeof RT_SUBSCRIBE_OUTCOMES)[number];
