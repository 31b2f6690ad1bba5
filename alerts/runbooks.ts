// Runbook text per alert, written to docs/runbooks/<Alert>.md by `npm run generate`. The
// queries are the same builders the rules use, so a runbook never shows a stale query.
import {
  ALERT,
  DEPENDENCY_WINDOW,
  HTTP_LABELS,
  LATENCY_QUANTILE,
  QUEUE_JOBS,
  QUEUE_JOB_DURATION,
  QUEUE_LABELS,
  S3_LABELS,
  SERVICE_LABELS,
  SLO_LABELS,
  SPANS_DROPPED,
  SPAN_EXPORT_ERRORS,
  counterRate,
  errorRate,
  histogramQuantile,
  latencyQuantile,
  recordedErrorRatio,
  recordedSlowRatio,
  s3ErrorRatio,
  s3LatencyQuantile,
  sel,
  targetUp,
  SERVICES,
  FFMPEG_DURATION,
  CRM_ERROR_RATIO_THRESHOLD,
  DEFAULT_PORTS,
  ERROR_RATIO_THRESHOLD,
  FAULT_ERROR_RATIO_ENV,
  FFMPEG_ATTR,
  JOB_FAILURE_RATIO_THRESHOLD,
  MESSAGING_ATTR,
  METRICS_PATH,
  ROUTE_CLASSES,
  S3_ATTR,
  S3_ERROR_RATIO_THRESHOLD,
  SERVICE_API,
  SERVICE_WORKER,
  SPANS_DROPPED_RATIO_THRESHOLD,
  UPLOAD_FAILURES,
  VIDEO_METRIC_LABELS,
  type AlertName,
} from '../src/signals/index.ts';
import { pct } from './model.ts';
import { DASHBOARD_UIDS } from '../dashboards/uids.ts';

export interface Runbook {
  meaning: string;
  steps: string[];
  causes: string[];
}

const q = (expr: string): string => `\`${expr}\``;
const dash = (uid: string): string => `Grafana dashboard \`${uid}\` (/d/${uid})`;

export const RUNBOOKS: Record<AlertName, Runbook> = {
  [ALERT.highErrorRatio]: {
    meaning: `More than ${pct(ERROR_RATIO_THRESHOLD)} of one service's requests answer 5xx. Users see failed playback, uploads or API calls.`,
    steps: [
      `Open the ${dash(DASHBOARD_UIDS.overview)} and find the route with the red error-ratio line; or run ${q(recordedErrorRatio('5m', SLO_LABELS))}.`,
      `List the failing routes and status codes: ${q(errorRate('5m', {}, [HTTP_LABELS.route, HTTP_LABELS.status]))}.`,
      `Open ${dash(DASHBOARD_UIDS.traces)}, filter status = error for the service, open a trace and follow "Logs for this span" to the error log line.`,
    ],
    causes: [
      'S3 (MinIO) unreachable or slow: `s3.*` spans in error, S3HighErrorRatio usually fires too.',
      `Redis down: uploads fail to enqueue the thumbnail job (\`${UPLOAD_FAILURES}{${VIDEO_METRIC_LABELS.reason}="queue_unavailable"}\`).`,
      'PostgreSQL down or migrations not applied: `GET /api/videos` and webhooks fail.',
      `Fault injection left on: \`${FAULT_ERROR_RATIO_ENV}\` set in the video-api environment.`,
    ],
  },
  [ALERT.routeClassHighErrorRatio]: {
    meaning: `One route class (${ROUTE_CLASSES.join(', ')}) fails above ${pct(ERROR_RATIO_THRESHOLD)} while the service as a whole may still be under it.`,
    steps: [
      `Error ratio per class: ${q(recordedErrorRatio('5m', SLO_LABELS))}.`,
      `Status codes of that class: ${q(errorRate('5m', { [HTTP_LABELS.routeClass]: '$route_class' }, [HTTP_LABELS.route, HTTP_LABELS.status]))} (replace $route_class).`,
      `In ${dash(DASHBOARD_UIDS.traces)} search TraceQL \`{ status = error && span.http.route = "<route>" }\` and read the failing span's events.`,
    ],
    causes: [
      'stream/redirect: S3 GetObject or presigning failing (credentials, bucket, clock skew).',
      'upload: multipart upload to S3 failing, or Redis unavailable for the thumbnail job.',
      'webhook: the CRM or the database failing inside the webhook handler.',
    ],
  },
  [ALERT.latencyOverObjective]: {
    meaning: 'The P95 latency of a route class is above that class\'s objective (see the alert description for the number).',
    steps: [
      `P${LATENCY_QUANTILE * 100} per route class: ${q(latencyQuantile(LATENCY_QUANTILE, '5m', {}, SLO_LABELS))}.`,
      `On the ${dash(DASHBOARD_UIDS.overview)} latency panel, click an exemplar dot above the objective line to open that slow trace in Tempo.`,
      `Check dependencies in ${dash(DASHBOARD_UIDS.dependencies)}: ${q(s3LatencyQuantile(LATENCY_QUANTILE, '5m'))}.`,
    ],
    causes: [
      'S3 slow (ranged GETs for stream, multipart parts for upload).',
      'CPU saturation: FFmpeg or another process on the same host; Node event-loop lag.',
      'Large ranges requested by players (check range sizes on the Video streaming dashboard).',
    ],
  },
  [ALERT.availabilityBudgetBurn]: {
    meaning: 'The 5xx ratio is high over both a long and a short window: at this rate the availability error budget of the SLO period runs out early. `long_window` tells how fast (1h: page now; 3d: ticket).',
    steps: [
      `Error ratio over the alert's windows: ${q(recordedErrorRatio('1h'))} and ${q(recordedErrorRatio('5m'))}.`,
      `Find the failing routes: ${q(errorRate('5m', {}, [HTTP_LABELS.route, HTTP_LABELS.status]))}.`,
      'Follow the HighErrorRatio runbook from its second step.',
    ],
    causes: ['The causes of HighErrorRatio, sustained; or a low but steady 5xx rate (ticket window) after a deploy.'],
  },
  [ALERT.latencyBudgetBurn]: {
    meaning: 'Too many requests finish slower than their route class objective over both a long and a short window: the latency SLO budget burns fast.',
    steps: [
      `Slow share over the alert's windows: ${q(recordedSlowRatio('1h'))} and ${q(recordedSlowRatio('5m'))}.`,
      `Which class is slow: ${q(recordedSlowRatio('5m', SLO_LABELS))}.`,
      'Follow the LatencyP95OverObjective runbook from its second step (exemplars to traces).',
    ],
    causes: ['The causes of LatencyP95OverObjective, sustained.'],
  },
  [ALERT.targetDown]: {
    meaning: 'Prometheus cannot scrape a service\'s metrics endpoint. The process is dead, hung or unreachable; its error and latency alerts are inhibited meanwhile.',
    steps: [
      `Which targets are down: ${q(`${targetUp(SERVICES)} == 0`)}; Prometheus UI > Status > Targets shows the scrape error.`,
      '`docker compose ps` and `docker compose logs --tail=100 <service>`: crashed, restarting, OOM-killed?',
      `Check the metrics port (${SERVICE_API} ${DEFAULT_PORTS.apiMetrics}, ${SERVICE_WORKER} ${DEFAULT_PORTS.workerMetrics}) answers \`curl -s localhost:<port>${METRICS_PATH} | head\`.`,
    ],
    causes: ['Crash at start-up (bad environment, dependency unreachable); OOM kill; METRICS_PORT changed without the scrape config.'],
  },
  [ALERT.targetMissing]: {
    meaning: 'Prometheus has no target at all for the service: nothing is scraped, so no other alert for it can fire.',
    steps: [
      `Check the scrape config has job \`<service>\`: Prometheus UI > Status > Targets; ${q(`count by (job) (up)`)}.`,
      '`docker compose ps`: is the service defined and started?',
      'Check the job name in prometheus/prometheus.yml equals the service name (video-api, video-worker).',
    ],
    causes: ['Service not started or removed from compose; job renamed in the scrape config.'],
  },
  [ALERT.s3HighErrorRatio]: {
    meaning: `More than ${pct(S3_ERROR_RATIO_THRESHOLD)} of one S3 operation's calls fail. Playback and uploads depending on that operation fail.`,
    steps: [
      `Error ratio per operation: ${q(s3ErrorRatio(DEPENDENCY_WINDOW, {}, [...SERVICE_LABELS, S3_LABELS.operation]))}.`,
      `In ${dash(DASHBOARD_UIDS.traces)} search \`{ name =~ "s3.*" && status = error }\` and read \`${S3_ATTR.statusCode}\` and the exception event.`,
      'Check MinIO: `docker compose logs minio`, console at http://localhost:9001, bucket exists, disk not full.',
    ],
    causes: ['MinIO down or restarting; bucket missing; wrong credentials; clock skew breaking SigV4; disk full.'],
  },
  [ALERT.crmHighFailureRatio]: {
    meaning: `More than ${pct(CRM_ERROR_RATIO_THRESHOLD)} of CRM calls fail after retries: registrations from webhooks are not synchronised.`,
    steps: [
      `Open ${dash(DASHBOARD_UIDS.dependencies)} CRM row: failures, retries and token refreshes.`,
      `In ${dash(DASHBOARD_UIDS.traces)} search \`{ name =~ "crm.*" && status = error }\`.`,
      'Check the CRM (compose: crm-emulator) logs and its rate limits.',
    ],
    causes: ['CRM rate limiting (429) or outage; expired OAuth token whose refresh fails.'],
  },
  [ALERT.queueBacklogGrowing]: {
    meaning: 'Jobs wait in the queue and their number keeps growing: thumbnails are late.',
    steps: [
      `Queue depth by state: ${q(`${QUEUE_JOBS}${sel({})}`)}.`,
      `Job throughput and failures: ${q(counterRate(`${QUEUE_JOB_DURATION}_count`, '5m', {}, [QUEUE_LABELS.queue, QUEUE_LABELS.outcome]))}.`,
      `Is the worker up? ${q(targetUp([SERVICE_WORKER]))}; FFmpeg duration: ${q(histogramQuantile(0.95, FFMPEG_DURATION, '5m', {}, [QUEUE_LABELS.step]))}.`,
    ],
    causes: ['video-worker down or stuck on a job; FFmpeg slow on large files; an upload burst larger than the worker pool.'],
  },
  [ALERT.jobHighFailureRatio]: {
    meaning: `More than ${pct(JOB_FAILURE_RATIO_THRESHOLD)} of queue jobs fail for good (after all retries): videos end up without thumbnails.`,
    steps: [
      `Outcomes: ${q(counterRate(`${QUEUE_JOB_DURATION}_count`, '5m', {}, [QUEUE_LABELS.queue, QUEUE_LABELS.outcome]))}.`,
      `In ${dash(DASHBOARD_UIDS.traces)} search \`{ name =~ "queue.job.*" && status = error }\`; the \`${FFMPEG_ATTR.stderrTail}\` attribute shows FFmpeg's error.`,
      `Check the worker logs for the job id (\`${MESSAGING_ATTR.messageId}\`).`,
    ],
    causes: ['Corrupt or unsupported uploads; FFmpeg timeouts; S3 unreachable from the worker.'],
  },
  [ALERT.spansDropped]: {
    meaning: `More than ${pct(SPANS_DROPPED_RATIO_THRESHOLD)} of spans are dropped by the batch span processor instead of exported: traces are missing, exemplars may point at nothing.`,
    steps: [
      `Dropped and export errors: ${q(counterRate(SPANS_DROPPED, '5m', {}, SERVICE_LABELS))}, ${q(counterRate(SPAN_EXPORT_ERRORS, '5m', {}, SERVICE_LABELS))}.`,
      `Open ${dash(DASHBOARD_UIDS.telemetry)}: exported vs dropped, export errors.`,
      '`docker compose logs otel-collector tempo`: is the collector up, is Tempo refusing writes?',
    ],
    causes: ['otel-collector down or restarting; Tempo overloaded; sampling ratio too high for the batch queue size.'],
  },
};

export function runbookMarkdown(alert: AlertName): string {
  const r = RUNBOOKS[alert];
  return [
    `# ${alert}`,
    '',
    '## What it means',
    '',
    r.meaning,
    '',
    '## First three things to look at',
    '',
    ...r.steps.map((s, i) => `${i + 1}. ${s}`),
    '',
    '## Common causes in this system',
    '',
    ...r.causes.map((c) => `- ${c}`),
    '',
    '_Generated from alerts/runbooks.ts by `npm run generate`; edit that file, not this one._',
    '',
  ].join('\n');
}
