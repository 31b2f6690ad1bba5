// Video streaming: requests by delivery mode, 206/416 share, bytes served, range sizes,
// redirect vs proxy latency, and the S3 operations behind them.
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  HTTP_LABELS,
  LATENCY_OBJECTIVE_SECONDS,
  LATENCY_QUANTILE,
  ROUTES,
  S3_LABELS,
  VIDEO_ACCESS_CHECKS,
  VIDEO_BYTES_SERVED,
  VIDEO_METRIC_LABELS,
  VIDEO_RANGE_SIZE,
  counterRate,
  histogramQuantile,
  latencyQuantile,
  requestRate,
  s3ErrorRatio,
  s3LatencyQuantile,
  statusShare,
} from './signals.ts';
import {
  DASHBOARD_UIDS,
  RATE,
  baseDashboard,
  envSel,
  environmentVariable,
  linkTo,
  prom,
  row,
  timeseriesPanel,
  type DashboardConfig,
} from './common.ts';

export const defaultVideoStreamingConfig: DashboardConfig = {
  uid: DASHBOARD_UIDS.streaming,
  title: 'Video platform / Video streaming',
  tags: ['video-platform', 'streaming'],
  from: 'now-1h',
  refresh: '30s',
};

const video = (extra: Record<string, string> = {}) => envSel({ [HTTP_LABELS.route]: ROUTES.videoStream, ...extra });

export const deliveryModeRateTimeseries = () =>
  timeseriesPanel(
    'Video requests by delivery mode',
    'GET /api/videos/:filename per second by route class: "redirect" answers 302 to a presigned S3 URL, "stream" proxies the bytes (ranges).',
    [prom(requestRate(RATE, video(), [HTTP_LABELS.routeClass]), '{{route_class}}')],
    { unit: 'reqps', stack: true },
  ).span(12);

export const videoStatusTimeseries = () =>
  timeseriesPanel(
    'Video responses by status',
    'Video requests per second by status: 200 full file, 206 range, 302 redirect, 401/403 access denied, 404 unknown video, 416 unsatisfiable range.',
    [prom(requestRate(RATE, video(), [HTTP_LABELS.status]), '{{http_response_status_code}}')],
    { unit: 'reqps', stack: true },
  ).span(12);

export const partialContentShareTimeseries = () =>
  timeseriesPanel(
    '206 and 416 share',
    'Share of video requests answered 206 (a served byte range: players seek and buffer with ranges) and 416 (a range outside the file: a client bug or a stale length).',
    [
      prom(statusShare('206', RATE, video()), '206 partial content', { refId: 'P206' }),
      prom(statusShare('416', RATE, video()), '416 range not satisfiable', { refId: 'P416' }),
    ],
    { unit: 'percentunit', min: 0 },
  ).span(12);

export const accessChecksTimeseries = () =>
  timeseriesPanel(
    'Access checks by outcome',
    'video.access_check outcomes per second: granted, no_session (401), invalid_session (401), forbidden (403, private video of another user), not_found (404).',
    [prom(counterRate(VIDEO_ACCESS_CHECKS, RATE, envSel(), [VIDEO_METRIC_LABELS.outcome]), '{{outcome}}')],
    { unit: 'ops', stack: true },
  ).span(12);

export const bytesServedTimeseries = () =>
  timeseriesPanel(
    'Bytes served (proxied streaming)',
    'Bytes per second of video sent to clients by proxied streaming (presigned redirects are served by S3 directly and do not appear here).',
    [prom(counterRate(VIDEO_BYTES_SERVED, RATE, envSel()), 'bytes/s')],
    { unit: 'Bps', min: 0 },
  ).span(12);

export const rangeSizeTimeseries = () =>
  timeseriesPanel(
    'Served range size',
    'P50 and P95 size of the byte ranges served by proxied streaming. Players ask for ~1-8 MiB chunks; huge ranges mean a client downloads whole files.',
    [0.5, 0.95].map((q) => prom(histogramQuantile(q, VIDEO_RANGE_SIZE, RATE, envSel()), `p${q * 100}`, { refId: `P${q * 100}` })),
    { unit: 'bytes', min: 0 },
  ).span(12);

export const redirectVsStreamLatencyTimeseries = () =>
  timeseriesPanel(
    'Redirect vs stream latency (P95)',
    `P95 latency of the two delivery modes with exemplars: redirect (objective ${LATENCY_OBJECTIVE_SECONDS.redirect} s) is auth + a local signature; stream (objective ${LATENCY_OBJECTIVE_SECONDS.stream} s) waits for S3's first bytes.`,
    (['redirect', 'stream'] as const).map((cls) =>
      prom(latencyQuantile(LATENCY_QUANTILE, RATE, video({ [HTTP_LABELS.routeClass]: cls })), cls, { exemplar: true, refId: cls }),
    ),
    { unit: 's', min: 0 },
  ).span(12);

export const s3LatencyByOperationTimeseries = () =>
  timeseriesPanel(
    'S3 latency by operation (P95)',
    'P95 latency of each S3 operation the service calls (src/lib/s3.ts), with exemplars to the s3.* span.',
    [prom(s3LatencyQuantile(LATENCY_QUANTILE, RATE, envSel()), '{{s3_operation}}', { exemplar: true })],
    { unit: 's', min: 0 },
  ).span(12);

export const s3ErrorsByOperationTimeseries = () =>
  timeseriesPanel(
    'S3 error ratio by operation',
    'Share of S3 calls failing, by operation (S3HighErrorRatio fires above its threshold). Empty without calls.',
    [prom(s3ErrorRatio(RATE, envSel(), [S3_LABELS.operation]), '{{s3_operation}}')],
    { unit: 'percentunit', min: 0 },
  ).span(12);

export function videoStreamingDashboard(cfg: DashboardConfig = defaultVideoStreamingConfig): dashboard.DashboardBuilder {
  return baseDashboard(cfg)
    .description('How is video delivered? Delivery modes, ranges, bytes, access checks and the S3 calls behind them.')
    .withVariable(environmentVariable())
    .link(linkTo(DASHBOARD_UIDS.overview, 'Service overview'))
    .link(linkTo(DASHBOARD_UIDS.traces, 'Traces and logs'))
    .withRow(row('Requests'))
    .withPanel(deliveryModeRateTimeseries())
    .withPanel(videoStatusTimeseries())
    .withPanel(partialContentShareTimeseries())
    .withPanel(accessChecksTimeseries())
    .withRow(row('Bytes and latency'))
    .withPanel(bytesServedTimeseries())
    .withPanel(rangeSizeTimeseries())
    .withPanel(redirectVsStreamLatencyTimeseries())
    .withRow(row('S3'))
    .withPanel(s3LatencyByOperationTimeseries())
    .withPanel(s3ErrorsByOperationTimeseries());
}
