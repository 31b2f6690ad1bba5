// PromQL builders: the only place queries are written. Dashboards and alerts call these.
import { ERROR_STATUS_REGEX, HTTP_LABELS, HTTP_SERVER_DURATION } from './http.ts';
import { LABEL_SERVICE } from './services.ts';
import { S3_DURATION, S3_LABELS } from './s3.ts';

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
