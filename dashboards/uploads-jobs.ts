// Uploads and jobs: upload throughput and sizes, parts, 413s and aborts, the thumbnail queue,
// job duration and failures, FFmpeg duration and failures.
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  FFMPEG_DURATION,
  HTTP_LABELS,
  JOB_FAILURE_RATIO_THRESHOLD,
  LATENCY_OBJECTIVE_SECONDS,
  LATENCY_QUANTILE,
  QUEUE_JOBS,
  QUEUE_JOB_DURATION,
  QUEUE_JOB_WAIT,
  QUEUE_LABELS,
  ROUTES,
  RT_CONNECTED_CLIENTS,
  RT_CONNECTIONS,
  RT_LABELS,
  RT_MESSAGES,
  UPLOAD_BYTES,
  UPLOAD_FAILURES,
  UPLOAD_PARTS,
  UPLOAD_SIZE,
  VIDEO_METRIC_LABELS,
  counterRate,
  histogramQuantile,
  latencyQuantile,
  pct,
  requestRate,
  safeRatio,
  sel,
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

export const defaultUploadsJobsConfig: DashboardConfig = {
  uid: DASHBOARD_UIDS.uploads,
  title: 'Video platform / Uploads and jobs',
  tags: ['video-platform', 'uploads', 'queue'],
  from: 'now-1h',
  refresh: '30s',
};

const upload = (extra: Record<string, string> = {}) => envSel({ [HTTP_LABELS.route]: ROUTES.uploadStream, ...extra });

export const uploadRequestsTimeseries = () =>
  timeseriesPanel(
    'Uploads by status',
    'POST /api/upload/stream per second by status: 201 stored, 400 bad request, 401 no session, 413 over the size limit, 5xx S3 or queue failures.',
    [prom(requestRate(RATE, upload(), [HTTP_LABELS.status]), '{{http_response_status_code}}')],
    { unit: 'reqps', stack: true },
  ).span(12);

export const uploadThroughputTimeseries = () =>
  timeseriesPanel(
    'Upload throughput',
    'Bytes per second received by uploads, counted as multipart parts reach S3.',
    [prom(counterRate(UPLOAD_BYTES, RATE, envSel()), 'bytes/s')],
    { unit: 'Bps', min: 0 },
  ).span(12);

export const uploadSizeTimeseries = () =>
  timeseriesPanel(
    'Upload size',
    'P50 and P95 size of completed uploads.',
    [0.5, 0.95].map((q) => prom(histogramQuantile(q, UPLOAD_SIZE, RATE, envSel()), `p${q * 100}`, { refId: `P${q * 100}` })),
    { unit: 'bytes', min: 0 },
  ).span(8);

export const uploadPartsTimeseries = () =>
  timeseriesPanel(
    'Multipart parts uploaded',
    'S3 multipart parts uploaded per second (one part is UPLOAD_PART_SIZE_BYTES, the last one smaller).',
    [prom(counterRate(UPLOAD_PARTS, RATE, envSel()), 'parts/s')],
    { unit: 'ops', min: 0 },
  ).span(8);

export const uploadFailuresTimeseries = () =>
  timeseriesPanel(
    'Upload failures by reason',
    'Uploads that did not complete, per second, by reason: too_large (413), client_abort (the client went away), bad_request, s3_error, queue_unavailable.',
    [prom(counterRate(UPLOAD_FAILURES, RATE, envSel(), [VIDEO_METRIC_LABELS.reason]), '{{reason}}')],
    { unit: 'ops', stack: true },
  ).span(8);

export const uploadLatencyTimeseries = () =>
  timeseriesPanel(
    'Upload latency (P95)',
    `P95 duration of uploads with exemplars; the red line is the upload objective (${LATENCY_OBJECTIVE_SECONDS.upload} s for a typical file).`,
    [prom(latencyQuantile(LATENCY_QUANTILE, RATE, upload({ [HTTP_LABELS.routeClass]: 'upload' })), 'p95', { exemplar: true })],
    { unit: 's', min: 0, threshold: LATENCY_OBJECTIVE_SECONDS.upload },
  ).span(24);

export const queueDepthTimeseries = () =>
  timeseriesPanel(
    'Thumbnail queue depth by state',
    'Jobs in the queue by state (waiting, active, delayed = waiting for a retry, failed, completed), read from BullMQ on every scrape of video-worker.',
    [prom(`max by (${QUEUE_LABELS.queue}, ${QUEUE_LABELS.state}) (${QUEUE_JOBS}${sel(envSel())})`, '{{queue}} {{state}}')],
    { unit: 'short', min: 0 },
  ).span(12);

export const jobWaitTimeseries = () =>
  timeseriesPanel(
    'Job wait time (P95)',
    'Time from enqueue to the start of processing: grows when the worker pool is too small.',
    [prom(histogramQuantile(0.95, QUEUE_JOB_WAIT, RATE, envSel(), [QUEUE_LABELS.queue]), '{{queue}}')],
    { unit: 's', min: 0 },
  ).span(12);

export const jobDurationTimeseries = () =>
  timeseriesPanel(
    'Job duration by outcome (P95)',
    'P95 duration of job attempts by outcome: completed, retry (failed, will be retried), failed (retries exhausted), requeued (shutdown).',
    [prom(histogramQuantile(0.95, QUEUE_JOB_DURATION, RATE, envSel(), [QUEUE_LABELS.queue, QUEUE_LABELS.outcome]), '{{queue}} {{outcome}}', { exemplar: true })],
    { unit: 's', min: 0 },
  ).span(12);

export const jobFailureRatioTimeseries = () => {
  const g = [QUEUE_LABELS.queue];
  return timeseriesPanel(
    'Job failure ratio',
    `Share of job attempts that failed for good; the red line is the ${pct(JOB_FAILURE_RATIO_THRESHOLD)} JobHighFailureRatio threshold.`,
    [
      prom(
        safeRatio(
          counterRate(`${QUEUE_JOB_DURATION}_count`, RATE, envSel({ [QUEUE_LABELS.outcome]: 'failed' }), g),
          counterRate(`${QUEUE_JOB_DURATION}_count`, RATE, envSel(), g),
        ),
        '{{queue}}',
      ),
    ],
    { unit: 'percentunit', min: 0, threshold: JOB_FAILURE_RATIO_THRESHOLD },
  ).span(12);
};

export const ffmpegDurationTimeseries = () =>
  timeseriesPanel(
    'FFmpeg duration by step (P95)',
    'P95 duration of ffprobe (probe) and thumbnail extraction runs, with exemplars to the ffmpeg.* span.',
    [prom(histogramQuantile(0.95, FFMPEG_DURATION, RATE, envSel(), [QUEUE_LABELS.step]), '{{step}}', { exemplar: true })],
    { unit: 's', min: 0 },
  ).span(12);

export const ffmpegOutcomesTimeseries = () =>
  timeseriesPanel(
    'FFmpeg runs by outcome',
    'FFmpeg runs per second by step and outcome: success, error (non-zero exit: corrupt or unsupported input), timeout (killed).',
    [prom(counterRate(`${FFMPEG_DURATION}_count`, RATE, envSel(), [QUEUE_LABELS.step, QUEUE_LABELS.outcome]), '{{step}} {{outcome}}')],
    { unit: 'ops', stack: true },
  ).span(12);

export const realtimeClientsTimeseries = () =>
  timeseriesPanel(
    'Realtime clients and connections',
    'Socket.io clients connected to video-api (they receive upload progress and thumbnail.ready / thumbnail.failed), and connection attempts per second by outcome (accepted, unauthorized).',
    [
      prom(`sum (${RT_CONNECTED_CLIENTS}${sel(envSel())})`, 'connected', { refId: 'C' }),
      prom(counterRate(RT_CONNECTIONS, RATE, envSel(), [RT_LABELS.outcome]), 'connections {{outcome}}/s', { refId: 'O' }),
    ],
    { unit: 'short', min: 0 },
  ).span(12);

export const realtimeMessagesTimeseries = () =>
  timeseriesPanel(
    'Realtime messages by event',
    'Socket.io messages per second by direction (in: subscribe/unsubscribe from clients; out: upload.progress, thumbnail.ready, thumbnail.failed to clients).',
    [prom(counterRate(RT_MESSAGES, RATE, envSel(), [RT_LABELS.direction, RT_LABELS.event]), '{{direction}} {{event}}')],
    { unit: 'ops', stack: true },
  ).span(12);

export function uploadsJobsDashboard(cfg: DashboardConfig = defaultUploadsJobsConfig): dashboard.DashboardBuilder {
  return baseDashboard(cfg)
    .description('Are uploads getting in and thumbnails getting made? Upload traffic and failures, the thumbnail queue, jobs, FFmpeg, and the realtime updates that tell users.')
    .withVariable(environmentVariable())
    .link(linkTo(DASHBOARD_UIDS.overview, 'Service overview'))
    .link(linkTo(DASHBOARD_UIDS.traces, 'Traces and logs'))
    .withRow(row('Uploads'))
    .withPanel(uploadRequestsTimeseries())
    .withPanel(uploadThroughputTimeseries())
    .withPanel(uploadSizeTimeseries())
    .withPanel(uploadPartsTimeseries())
    .withPanel(uploadFailuresTimeseries())
    .withPanel(uploadLatencyTimeseries())
    .withRow(row('Thumbnail jobs'))
    .withPanel(queueDepthTimeseries())
    .withPanel(jobWaitTimeseries())
    .withPanel(jobDurationTimeseries())
    .withPanel(jobFailureRatioTimeseries())
    .withRow(row('FFmpeg'))
    .withPanel(ffmpegDurationTimeseries())
    .withPanel(ffmpegOutcomesTimeseries())
    .withRow(row('Realtime updates'))
    .withPanel(realtimeClientsTimeseries())
    .withPanel(realtimeMessagesTimeseries());
}
