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

/** Error ratio alerts keep firing this long after the ratio dips, so a flapping 5xx burst is one alert. */
export const ERROR_RATIO_KEEP_FIRING_FOR = '5m';
/** Per-route-class error ratio: same threshold, a warning (the service-wide alert is the page). */
export const ROUTE_CLASS_ERROR_RATIO_FOR = '5m';
/** Burn-rate alerts keep firing this long, so a burn straddling the short window does not resolve and re-page. */
export const BURN_RATE_KEEP_FIRING_FOR = '5m';
/** A scrape target that answers nothing for this long is down (a restart takes a few seconds). */
export const TARGET_DOWN_FOR = '1m';
/** A service that has no scrape target at all for this long is missing (deleted, renamed, never deployed). */
export const TARGET_MISSING_FOR = '5m';
/** Dependency alerts (S3, CRM, queue) wait this long: a dependency blip is not an incident. */
export const DEPENDENCY_ALERT_FOR = '5m';
/** Rate window of dependency and telemetry alerts. */
export const DEPENDENCY_WINDOW = '5m';
/** Spans-dropped alert waits this long: a collector restart drops a batch or two. */
export const SPANS_DROPPED_FOR = '10m';

/**
 * Alert names, used by the rule generator, Alertmanager's inhibition rules, the runbooks
 * (docs/runbooks/<name>.md) and the tests. An alert's runbook_url is RUNBOOK_BASE_URL/<name>.md.
 */
export const ALERT = {
  highErrorRatio: 'HighErrorRatio',
  routeClassHighErrorRatio: 'RouteClassHighErrorRatio',
  latencyOverObjective: 'LatencyP95OverObjective',
  availabilityBudgetBurn: 'AvailabilityErrorBudgetBurn',
  latencyBudgetBurn: 'LatencyErrorBudgetBurn',
  targetDown: 'TargetDown',
  targetMissing: 'TargetMissing',
  s3HighErrorRatio: 'S3HighErrorRatio',
  crmHighFailureRatio: 'CrmHighFailureRatio',
  queueBacklogGrowing: 'QueueBacklogGrowing',
  jobHighFailureRatio: 'JobHighFailureRatio',
  spansDropped: 'SpansDropped',
} as const;
export type AlertName = (typeof ALERT)[keyof typeof ALERT];

/** Alerts that a dead or missing target of the same service makes meaningless (Alertmanager inhibits them). */
export const ALERTS_INHIBITED_BY_DEAD_TARGET: readonly AlertName[] = [
  ALERT.highErrorRatio,
  ALERT.routeClassHighErrorRatio,
  ALERT.latencyOverObjective,
  ALERT.availabilityBudgetBurn,
  ALERT.latencyBudgetBurn,
  ALERT.s3HighErrorRatio,
  ALERT.crmHighFailureRatio,
  ALERT.queueBacklogGrowing,
  ALERT.jobHighFailureRatio,
  ALERT.spansDropped,
];

/**
 * Where runbooks are published: this repository's docs/runbooks on its default branch.
 * Forks change this one line (the repository owner is a placeholder until the project is published).
 */
export const RUNBOOK_BASE_URL = 'https://github.com/video-observability/video-observability-stack/blob/main/docs/runbooks';
export const runbookUrl = (alert: AlertName): string => `${RUNBOOK_BASE_URL}/${alert}.md`;

/** Alert severities, routed by Alertmanager: critical pages (email + webhook), warning tickets (webhook). */
export const SEVERITIES = ['critical', 'warning'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Burn-rate threshold on the bad-event ratio: factor x the error budget, rounded for display. */
export const burnRateThreshold = (factor: number, objective: number): number => Number((factor * (1 - objective)).toPrecision(6));

/** Queue backlog alert: waiting jobs above this many AND still growing over QUEUE_BACKLOG_WINDOW. */
export const QUEUE_BACKLOG_MIN_JOBS = 50;
/** Window over which the backlog's growth (deriv) is measured. */
export const QUEUE_BACKLOG_WINDOW = '15m';
/** How long the backlog must keep growing before the alert fires (the worker pool is too small or stuck). */
export const QUEUE_BACKLOG_FOR = '15m';
