// Service level objectives and alert thresholds. Every number here has a one-line why; alert
// text, dashboards, k6 thresholds and tests import these values, never copy them.
import type { RouteClass } from './routes.ts';

/** Error ratio above which the error-rate alert fires (the plan: "alerts for error rates > 5%"). */
export const ERROR_RATIO_THRESHOLD = 0.05;
/** How long the error ratio must stay above the threshold before paging (avoids blips). */
export const ERROR_RATIO_FOR = '5m';
/** Rate window of the error-ratio alert. */
export const ERROR_RATIO_WINDOW = '5m';

/** Quantile of the latency objectives (the plan: "P95 latency monitoring"). */
export const LATENCY_QUANTILE = 0.95;

/**
 * P95 latency objective per route class, in seconds. Each MUST be a histogram bucket boundary
 * of HTTP_DURATION_BUCKETS (a test enforces it), or P95 against it would be interpolated fiction.
 */
export const LATENCY_OBJECTIVE_SECONDS: Record<RouteClass, number> = {
  // A presigned redirect is auth + a local signature: fast or broken.
  redirect: 0.1,
  // JSON endpoints (lists, metadata): a database round trip or two.
  api: 0.25,
  // A proxied byte range: one S3 ranged GET streamed through; players request ~1-8 MiB chunks.
  stream: 1,
  // Webhooks do a CRM call and a database write before answering.
  webhook: 0.5,
  // Uploads stream the whole file to S3; the objective is for the typical (< 100 MiB) file.
  upload: 10,
  // Health and metrics endpoints: the scraper times out at 10 s; slower than this is trouble.
  internal: 0.25,
};

/** How long P95 must exceed its objective before the latency alert fires. */
export const LATENCY_FOR = '10m';
/** Rate window of the latency alert's quantile. */
export const LATENCY_WINDOW = '5m';

/** Availability SLO (share of non-5xx responses) over the SLO period, for burn-rate alerts. */
export const AVAILABILITY_OBJECTIVE = 0.995;
/** Latency SLO: share of requests that must finish within their class objective. */
export const LATENCY_SLO_OBJECTIVE = 0.95;
/** SLO period the error budget is spent over. */
export const SLO_PERIOD = '30d';

/**
 * Multi-window multi-burn-rate alerts (Google SRE workbook, chapter 5): a long window catches
 * sustained burn, a short one makes the alert resolve quickly once the burn stops.
 */
export const BURN_RATE_WINDOWS = [
  // 2 % of a 30-day budget in one hour: page.
  { severity: 'critical', long: '1h', short: '5m', factor: 14.4, for: '2m' },
  // 5 % of the budget in six hours: page.
  { severity: 'critical', long: '6h', short: '30m', factor: 6, for: '15m' },
  // 10 % of the budget in three days: ticket.
  { severity: 'warning', long: '3d', short: '6h', factor: 1, for: '1h' },
] as const;

/** Instrumentation overhead budget (the plan's success metric: < 1 %). */
export const OVERHEAD_BUDGET_RATIO = 0.01;
/** Trace storage budget per day (the plan's success metric: < 1 GB/day with sampling). */
export const TRACE_STORAGE_BUDGET_BYTES_PER_DAY = 1e9;
/** Endpoint trace coverage target (the plan: 95 % of API endpoints; ours is all of them). */
export const TRACE_COVERAGE_TARGET = 1;
