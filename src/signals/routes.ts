// Route templates (the only values the http_route label may take) and their route classes.
// A route class groups routes that share a latency objective (slo.ts).

export const ROUTES = {
  videoStream: '/api/videos/:filename',
  uploadStream: '/api/upload/stream',
  videoList: '/api/videos',
  crmWebhook: '/api/webhooks/crm',
  healthz: '/healthz',
  readyz: '/readyz',
} as const;
export type RouteTemplate = (typeof ROUTES)[keyof typeof ROUTES];

/**
 * Route classes. `stream` and `redirect` are both GET /api/videos/:filename: the delivery mode
 * decides the class, because a 302 to a presigned URL and a proxied byte range have very
 * different latency.
 */
export const ROUTE_CLASSES = ['stream', 'redirect', 'upload', 'api', 'webhook', 'internal'] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

/** Route class of requests that do not match any route (404s): bounded, never the raw path. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Video delivery modes for GET /api/videos/:filename (`?delivery=`). */
export const DELIVERY_MODES = ['redirect', 'stream'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];
