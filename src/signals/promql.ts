// PromQL builders: the only place queries are written. Dashboards and alerts call these.
import { ERROR_STATUS_REGEX, HTTP_LABELS, HTTP_SERVER_DURATION } from './http.ts';
import { LABEL_ENVIRONMENT, LABEL_JOB, LABEL_SERVICE } from './services.ts';
import { BURN_RATE_WINDOWS, ERROR_RATIO_WINDOW, LATENCY_OBJECTIVE_SECONDS, LATENCY_WINDOW } from './slo.ts';
import { S3_DURATION, S3_LABELS } from './s3.ts';
import { SPANS_DROPPED, SPANS_EXPORTED } from './telemetry.ts';

/** A label matcher set, e.g. `{service_name="video-api", route_class="stream"}`. */
export type Selector = Record<string, string>;

/** Renders matchers; values starting with `=~` or `!=` / `!~` keep their operator. */
export function sel(selector: Selector = {}, extra: string[] = []): string {
  const parts = Object.entries(selector).map(([k, v]) => {
    if (v.startsWith('=~') || v.startsWith('!~') || v.startsWith('!=')) return `${k}${v.slice(0, 2)}"${v.slice(2)}"`;
    return `${k}="${v}"`;
  });
  return `{${[...parts, ...extra].join(', ')}}`;
}

const by = (labels: readonly string[]): string => (labels.length ? ` by (${labels.join(', ')})` : '');

/** Requests per second. */
export function requestRate(window: string, selector: Selector = {}, groupBy: readonly string[] = []): string {
  return `sum${by(groupBy)} (rate(${HTTP_SERVER_DURATION}_count${sel(selector)}[${window}]))`;
}

/** Server-error (5xx) requests per second. */
export function errorRate(window: string, selector: Selector = {}, groupBy: readonly string[] = []): string {
  return `sum${by(groupBy)} (rate(${HTTP_SERVER_DURATION}_count${sel(selector, [`${HTTP_LABELS.status}=~"${ERROR_STATUS_REGEX}"`])}[${window}]))`;
}

/**
 * Share of requests that failed with a 5xx. Without traffic the denominator is 0 and the
 * result is empty (not NaN), so alerts built on it stay silent.
 */
export function errorRatio(window: string, selector: Selector = {}, groupBy: readonly string[] = []): string {
  return `(${errorRate(window, selector, groupBy)} or ${requestRate(window, selector, groupBy)} * 0) / (${requestRate(window, selector, groupBy)} > 0)`;
}

/** Latency quantile (seconds) from the request-duration histogram. */
export function latencyQuantile(q: number, window: string, selector: Selector = {}, groupBy: readonly string[] = []): string {
  return `histogram_quantile(${q}, sum by (${['le', ...groupBy].join(', ')}) (rate(${HTTP_SERVER_DURATION}_bucket${sel(selector)}[${window}])))`;
}

/** Share of requests slower than `thresholdSeconds` (must be a bucket boundary). */
export function slowRatio(thresholdSeconds: number, window: string, selector: Selector = {}, groupBy: readonly string[] = []): string {
  const fast = `sum${by(groupBy)} (rate(${HTTP_SERVER_DURATION}_bucket${sel(selector, [`le="${thresholdSeconds}"`])}[${window}]))`;
  return `(1 - (${fast} / (${requestRate(window, selector, groupBy)} > 0)))`;
}

/** S3 operation latency quantile by operation. */
export function s3LatencyQuantile(q: number, window: string, selector: Selector = {}): string {
  return `histogram_quantile(${q}, sum by (le, ${S3_LABELS.operation}) (rate(${S3_DURATION}_bucket${sel(selector)}[${window}])))`;
}

/** S3 error ratio by operation. */
export function s3ErrorRatio(window: string, selector: Selector = {}, groupBy: readonly string[] = [S3_LABELS.operation]): string {
  const errors = `sum${by(groupBy)} (rate(${S3_DURATION}_count${sel(selector, [`${S3_LABELS.outcome}="error"`])}[${window}]))`;
  const all = `sum${by(groupBy)} (rate(${S3_DURATION}_count${sel(selector)}[${window}]))`;
  return `(${errors} or ${all} * 0) / (${all} > 0)`;
}

/** Selector for one service's metrics. */
export const forService = (service: string, extra: Selector = {}): Selector => ({ [LABEL_SERVICE]: service, ...extra });

// ---------------------------------------------------------------------------------------------
// Recording rules (alerts/recording.ts) and the queries built on them. Recorded series keep the
// labels service_name, deployment_environment and route_class; the burn-rate alerts over 1h..3d
// read these instead of re-scanning raw histograms at every evaluation.

/** Labels every recorded SLO series keeps. */
export const SLO_LABELS = [LABEL_SERVICE, LABEL_ENVIRONMENT, HTTP_LABELS.routeClass] as const;
/** Labels of service-level aggregates. */
export const SERVICE_LABELS = [LABEL_SERVICE, LABEL_ENVIRONMENT] as const;

const RECORD_PREFIX = `${LABEL_SERVICE}_${HTTP_LABELS.routeClass}`;
/** Recorded request rate per service and route class over `window`. */
export const recordedRequests = (window: string): string => `${RECORD_PREFIX}:http_server_requests:rate${window}`;
/** Recorded 5xx rate (0, not absent, when there is traffic without errors). */
export const recordedErrors = (window: string): string => `${RECORD_PREFIX}:http_server_errors:rate${window}`;
/** Recorded rate of requests that finished within their route class's latency objective. */
export const recordedFast = (window: string): string => `${RECORD_PREFIX}:http_server_fast_requests:rate${window}`;

/** Expression of the recorded request rate. */
export function requestsRecordExpr(window: string): string {
  return requestRate(window, {}, SLO_LABELS);
}

/** Expression of the recorded 5xx rate: `or ... * 0` gives 0 where there is traffic but no error. */
export function errorsRecordExpr(window: string): string {
  return `${errorRate(window, {}, SLO_LABELS)} or ${requestRate(window, {}, SLO_LABELS)} * 0`;
}

/**
 * Expression of the recorded "fast" rate: per route class, the bucket at that class's objective
 * (each objective is a bucket boundary, see signals.test.ts).
 */
export function fastRecordExpr(window: string): string {
  return (Object.entries(LATENCY_OBJECTIVE_SECONDS) as [string, number][])
    .map(
      ([cls, objective]) =>
        `sum${by(SLO_LABELS)} (rate(${HTTP_SERVER_DURATION}_bucket${sel({ [HTTP_LABELS.routeClass]: cls, le: String(objective) })}[${window}]))`,
    )
    .join(' or ');
}

/** Error ratio from the recorded series, aggregated by `groupBy`; empty without traffic. */
export function recordedErrorRatio(window: string, groupBy: readonly string[] = SERVICE_LABELS, selector: Selector = {}): string {
  return `sum${by(groupBy)} (${recordedErrors(window)}${sel(selector)}) / (sum${by(groupBy)} (${recordedRequests(window)}${sel(selector)}) > 0)`;
}

/** Share of requests slower than their class objective, from the recorded series; empty without traffic. */
export function recordedSlowRatio(window: string, groupBy: readonly string[] = SERVICE_LABELS, selector: Selector = {}): string {
  return `1 - sum${by(groupBy)} (${recordedFast(window)}${sel(selector)}) / (sum${by(groupBy)} (${recordedRequests(window)}${sel(selector)}) > 0)`;
}

/** Windows that recording rules must exist for: the alert windows and every burn-rate window. */
export function recordingWindows(): string[] {
  const ws = new Set<string>([ERROR_RATIO_WINDOW, LATENCY_WINDOW]);
  for (const w of BURN_RATE_WINDOWS) {
    ws.add(w.long);
    ws.add(w.short);
  }
  return [...ws];
}

// ---------------------------------------------------------------------------------------------
// Other building blocks used by dashboards and alerts.

/** Sum of a counter's per-second rate, optionally grouped. */
export function counterRate(metric: string, window: string, selector: Selector = {}, groupBy: readonly string[] = []): string {
  return `sum${by(groupBy)} (rate(${metric}${sel(selector)}[${window}]))`;
}

/** Quantile of any histogram (base name without `_bucket`). */
export function histogramQuantile(q: number, metric: string, window: string, selector: Selector = {}, groupBy: readonly string[] = []): string {
  return `histogram_quantile(${q}, sum by (${['le', ...groupBy].join(', ')}) (rate(${metric}_bucket${sel(selector)}[${window}])))`;
}

/**
 * Ratio of two counters' rates, silent (empty) without traffic: `(num or den * 0) / (den > 0)`.
 * `num` and `den` are full PromQL expressions with the same grouping.
 */
export function safeRatio(num: string, den: string): string {
  return `(${num} or ${den} * 0) / (${den} > 0)`;
}

/** HTTP status class share (e.g. 206 or 416) of the request rate, by route. */
export function statusShare(statusRegex: string, window: string, selector: Selector = {}, groupBy: readonly string[] = []): string {
  return safeRatio(
    `sum${by(groupBy)} (rate(${HTTP_SERVER_DURATION}_count${sel(selector, [`${HTTP_LABELS.status}=~"${statusRegex}"`])}[${window}]))`,
    requestRate(window, selector, groupBy),
  );
}

/** Scrape target health for our services (`up` carries `job`, equal to the service name). */
export function targetUp(services: readonly string[]): string {
  return `up{${LABEL_JOB}=~"${services.join('|')}"}`;
}

/**
 * Label keys of the video/upload counters in src/api/metrics.ts (video.ts names the metrics and
 * their label values, ACCESS_OUTCOMES and UPLOAD_FAILURE_REASONS, but not these keys).
 */
export const VIDEO_METRIC_LABELS = { outcome: 'outcome', reason: 'reason' } as const;

/**
 * Spans that ended and were either exported or dropped: the denominator of the dropped ratio.
 * A process that exports nothing (everything dropped) still has one: `(exported or dropped * 0) + dropped`.
 */
export function spansHandled(window: string, selector: Selector = {}, groupBy: readonly string[] = []): string {
  const exported = counterRate(SPANS_EXPORTED, window, selector, groupBy);
  const dropped = counterRate(SPANS_DROPPED, window, selector, groupBy);
  return `((${exported} or ${dropped} * 0) + ${dropped})`;
}

/**
 * Loki labels of our logs. Loki's OTLP ingestion turns resource attributes into labels (the
 * promoted ones, service.name among them) or structured metadata (the rest), dots becoming
 * underscores; a LogQL label filter (`| name="value"`) matches either. The SDK sets the
 * environment as `deployment.environment.name` (current semantic conventions).
 */
export const LOKI_LABELS = {
  service: 'service_name',
  environment: 'deployment_environment_name',
  traceId: 'trace_id',
} as const;
