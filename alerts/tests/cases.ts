// promtool unit tests of every alert, written as sentences (kubernetes-mixin style) and emitted
// to alerts/tests/alerts.test.yml by `npm run generate`. Inputs are built from the same signal
// names; expected annotations are spelled out in full, so a template or threshold change shows
// up here as a failing expectation to review.
import { stringify } from 'yaml';
import {
  ALERT,
  AVAILABILITY_OBJECTIVE,
  BURN_RATE_WINDOWS,
  CRM_DURATION,
  CRM_ERROR_RATIO_THRESHOLD,
  CRM_LABELS,
  DEPENDENCY_ALERT_FOR,
  ERROR_RATIO_THRESHOLD,
  HTTP_LABELS,
  HTTP_SERVER_DURATION,
  JOB_FAILURE_RATIO_THRESHOLD,
  LABEL_ENVIRONMENT,
  LABEL_JOB,
  LABEL_SERVICE,
  LATENCY_OBJECTIVE_SECONDS,
  LATENCY_SLO_OBJECTIVE,
  QUEUE_BACKLOG_MIN_JOBS,
  QUEUE_BACKLOG_WINDOW,
  QUEUE_BACKLOG_FOR,
  QUEUE_JOBS,
  QUEUE_JOB_DURATION,
  QUEUE_LABELS,
  QUEUE_THUMBNAIL,
  ROUTES,
  S3_DURATION,
  S3_ERROR_RATIO_THRESHOLD,
  S3_LABELS,
  SERVICE_API,
  SERVICE_WORKER,
  SLO_PERIOD,
  SPANS_DROPPED,
  SPANS_DROPPED_FOR,
  SPANS_DROPPED_RATIO_THRESHOLD,
  SPANS_EXPORTED,
  TARGET_DOWN_FOR,
  TARGET_MISSING_FOR,
  burnRateThreshold,
  runbookUrl,
  type AlertName,
} from '../../src/signals/index.ts';
import { pct } from '../model.ts';

type Labels = Record<string, string>;
interface Series {
  series: string;
  values: string;
}
interface ExpAlert {
  exp_labels: Labels;
  exp_annotations: Record<string, string>;
}
interface Case {
  /** The sentence this case proves. */
  it: string;
  input: Series[];
  /** [eval time, alert, expected firing alerts] */
  checks: [string, AlertName, ExpAlert[]][];
}

const ENV = 'production';
const API = { [LABEL_SERVICE]: SERVICE_API, [LABEL_ENVIRONMENT]: ENV };
const WORKER = { [LABEL_SERVICE]: SERVICE_WORKER, [LABEL_ENVIRONMENT]: ENV };
const s = (metric: string, labels: Labels, values: string): Series => ({
  series: `${metric}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ')}}`,
  values,
});
const STREAM = { ...API, [HTTP_LABELS.routeClass]: 'stream', [HTTP_LABELS.route]: ROUTES.videoStream, [HTTP_LABELS.method]: 'GET' };

/** `rps` requests per second for `minutes`, then nothing (the target is gone). */
const counter = (perMinute: number, minutes: number, after = '') => `0+${perMinute}x${minutes}${after}`;

/** HTTP traffic of the stream class: `okPerMin` 206s and `errPerMin` 500s per minute. */
function httpTraffic(okPerMin: number, errPerMin: number, minutes: number, after = ''): Series[] {
  return [
    s(`${HTTP_SERVER_DURATION}_count`, { ...STREAM, [HTTP_LABELS.status]: '206' }, counter(okPerMin, minutes, after)),
    s(`${HTTP_SERVER_DURATION}_count`, { ...STREAM, [HTTP_LABELS.status]: '500' }, counter(errPerMin, minutes, after)),
    // Buckets (all fast) so the latency recording rules have data too.
    ...['1', '+Inf'].flatMap((le) => [
      s(`${HTTP_SERVER_DURATION}_bucket`, { ...STREAM, [HTTP_LABELS.status]: '206', le }, counter(okPerMin, minutes, after)),
      s(`${HTTP_SERVER_DURATION}_bucket`, { ...STREAM, [HTTP_LABELS.status]: '500', le }, counter(errPerMin, minutes, after)),
    ]),
  ];
}
/** Stream requests that all take between 1 s and 2.5 s (P95 = 2.425 s by interpolation). */
function slowStream(perMin: number, minutes: number): Series[] {
  const l = { ...STREAM, [HTTP_LABELS.status]: '206' };
  return [
    s(`${HTTP_SERVER_DURATION}_count`, l, counter(perMin, minutes)),
    s(`${HTTP_SERVER_DURATION}_bucket`, { ...l, le: '1' }, `0x${minutes}`),
    s(`${HTTP_SERVER_DURATION}_bucket`, { ...l, le: '2.5' }, counter(perMin, minutes)),
    s(`${HTTP_SERVER_DURATION}_bucket`, { ...l, le: '+Inf' }, counter(perMin, minutes)),
  ];
}
const flat = (series: Series[]): Series[] => series.map((x) => ({ ...x, values: x.values.replace(/^0\+\d+x(\d+)/, '5x$1') }));

const ann = (alert: AlertName, summary: string, description: string) => ({ summary, description, runbook_url: runbookUrl(alert) });

const highErrorRatio = (value: string): ExpAlert => ({
  exp_labels: { severity: 'critical', ...API },
  exp_annotations: ann(
    ALERT.highErrorRatio,
    `video-api answers ${value} of requests with 5xx`,
    `More than ${pct(ERROR_RATIO_THRESHOLD)} of video-api requests in ${ENV} failed with a 5xx over the last 5m (now ${value}), for at least 5m.`,
  ),
});

const page = BURN_RATE_WINDOWS[0];
const ticket = BURN_RATE_WINDOWS[2];

export const CASES: Case[] = [
  {
    it: 'HighErrorRatio: not yet just before its `for`, fires with exact labels and annotations at 10 % errors',
    input: httpTraffic(54, 6, 30),
    checks: [
      ['5m', ALERT.highErrorRatio, []],
      ['10m', ALERT.highErrorRatio, [highErrorRatio('10%')]],
    ],
  },
  {
    it: 'HighErrorRatio: stays silent with no traffic (no division by zero) and under the threshold',
    input: [...flat(httpTraffic(54, 6, 30)), ...httpTraffic(97, 3, 30).map((x) => ({ ...x, series: x.series.replace(ENV, 'staging') }))],
    checks: [['20m', ALERT.highErrorRatio, []]],
  },
  {
    it: 'HighErrorRatio: keeps firing for keep_firing_for after errors stop, then the dead target silences it while TargetDown fires',
    input: [
      ...httpTraffic(54, 6, 10, ' _x30'),
      s('up', { [LABEL_JOB]: SERVICE_API, instance: 'video-api:9464' }, '1x10 0x30'),
    ],
    checks: [
      ['16m', ALERT.highErrorRatio, [highErrorRatio('10%')]],
      ['30m', ALERT.highErrorRatio, []],
      [
        '30m',
        ALERT.targetDown,
        [
          {
            exp_labels: { severity: 'critical', [LABEL_JOB]: SERVICE_API, [LABEL_SERVICE]: SERVICE_API, instance: 'video-api:9464' },
            exp_annotations: ann(
              ALERT.targetDown,
              'video-api target video-api:9464 is down',
              `Prometheus could not scrape video-api at video-api:9464 for ${TARGET_DOWN_FOR}: the process is dead, hung or unreachable.`,
            ),
          },
        ],
      ],
    ],
  },
  {
    it: 'RouteClassHighErrorRatio: fires for the failing route class with its label',
    input: httpTraffic(54, 6, 30),
    checks: [
      ['4m', ALERT.routeClassHighErrorRatio, []],
      [
        '10m',
        ALERT.routeClassHighErrorRatio,
        [
          {
            exp_labels: { severity: 'warning', ...API, [HTTP_LABELS.routeClass]: 'stream' },
            exp_annotations: ann(
              ALERT.routeClassHighErrorRatio,
              'stream requests on video-api fail at 10%',
              `More than ${pct(ERROR_RATIO_THRESHOLD)} of stream requests on video-api (${ENV}) failed with a 5xx over the last 5m (now 10%).`,
            ),
          },
        ],
      ],
    ],
  },
  {
    it: 'LatencyP95OverObjective: not yet just before its `for`, fires when stream P95 is 2.425s against its objective',
    input: slowStream(60, 30),
    checks: [
      ['10m', ALERT.latencyOverObjective, []],
      [
        '15m',
        ALERT.latencyOverObjective,
        [
          {
            exp_labels: { severity: 'warning', ...API, [HTTP_LABELS.routeClass]: 'stream' },
            exp_annotations: ann(
              ALERT.latencyOverObjective,
              'P95 of stream requests on video-api is 2.425s',
              `P95 latency of route class stream on video-api (${ENV}) is 2.425s over the last 5m, above its objective of ${LATENCY_OBJECTIVE_SECONDS.stream}s, for at least 10m.`,
            ),
          },
        ],
      ],
    ],
  },
  {
    it: 'LatencyP95OverObjective: stays silent with no traffic (NaN quantile is not over anything)',
    input: flat(slowStream(60, 30)),
    checks: [['20m', ALERT.latencyOverObjective, []]],
  },
  {
    it: `AvailabilityErrorBudgetBurn: pages on the ${page.long}/${page.short} window at 10 % errors, not yet before its ${page.for} \`for\``,
    input: httpTraffic(54, 6, 30),
    checks: [
      ['2m', ALERT.availabilityBudgetBurn, []],
      [
        '10m',
        ALERT.availabilityBudgetBurn,
        [
          {
            exp_labels: { severity: page.severity, long_window: page.long, short_window: page.short, ...API },
            exp_annotations: ann(
              ALERT.availabilityBudgetBurn,
              `video-api burns its availability error budget ${page.factor}x too fast`,
              `The 5xx ratio of video-api (${ENV}) is above ${pct(burnRateThreshold(page.factor, AVAILABILITY_OBJECTIVE))} over both ${page.long} and ${page.short} (now 10% over ${page.long}): ${page.factor}x the burn rate that spends the ${pct(1 - AVAILABILITY_OBJECTIVE)} error budget of the ${pct(AVAILABILITY_OBJECTIVE)} availability SLO in ${SLO_PERIOD}.`,
            ),
          },
        ],
      ],
    ],
  },
  {
    it: `AvailabilityErrorBudgetBurn: a steady 1 % error rate only opens a ${ticket.severity} on the ${ticket.long}/${ticket.short} window after its ${ticket.for} \`for\``,
    input: httpTraffic(99, 1, 90),
    checks: [
      ['55m', ALERT.availabilityBudgetBurn, []],
      [
        '80m',
        ALERT.availabilityBudgetBurn,
        [
          {
            exp_labels: { severity: ticket.severity, long_window: ticket.long, short_window: ticket.short, ...API },
            exp_annotations: ann(
              ALERT.availabilityBudgetBurn,
              `video-api burns its availability error budget ${ticket.factor}x too fast`,
              `The 5xx ratio of video-api (${ENV}) is above ${pct(burnRateThreshold(ticket.factor, AVAILABILITY_OBJECTIVE))} over both ${ticket.long} and ${ticket.short} (now 1% over ${ticket.long}): ${ticket.factor}x the burn rate that spends the ${pct(1 - AVAILABILITY_OBJECTIVE)} error budget of the ${pct(AVAILABILITY_OBJECTIVE)} availability SLO in ${SLO_PERIOD}.`,
            ),
          },
        ],
      ],
    ],
  },
  {
    it: 'AvailabilityErrorBudgetBurn: stays silent with no traffic',
    input: flat(httpTraffic(54, 6, 30)),
    checks: [['20m', ALERT.availabilityBudgetBurn, []]],
  },
  {
    it: `LatencyErrorBudgetBurn: pages on the ${page.long}/${page.short} window when every stream request misses its objective`,
    input: slowStream(60, 30),
    checks: [
      ['2m', ALERT.latencyBudgetBurn, []],
      [
        '10m',
        ALERT.latencyBudgetBurn,
        [
          {
            exp_labels: { severity: page.severity, long_window: page.long, short_window: page.short, ...API },
            exp_annotations: ann(
              ALERT.latencyBudgetBurn,
              `video-api burns its latency error budget ${page.factor}x too fast`,
              `More than ${pct(burnRateThreshold(page.factor, LATENCY_SLO_OBJECTIVE))} of video-api requests (${ENV}) were slower than their route class objective over both ${page.long} and ${page.short} (now 100% over ${page.long}): ${page.factor}x the burn rate that spends the ${pct(1 - LATENCY_SLO_OBJECTIVE)} budget of the ${pct(LATENCY_SLO_OBJECTIVE)} latency SLO in ${SLO_PERIOD}.`,
            ),
          },
        ],
      ],
    ],
  },
  {
    it: 'LatencyErrorBudgetBurn: stays silent with no traffic',
    input: flat(slowStream(60, 30)),
    checks: [['20m', ALERT.latencyBudgetBurn, []]],
  },
  {
    it: 'TargetDown: not yet just before its `for`, stays silent while the target is up',
    input: [s('up', { [LABEL_JOB]: SERVICE_API, instance: 'video-api:9464' }, '1x5 0x10'), s('up', { [LABEL_JOB]: SERVICE_WORKER, instance: 'video-worker:9465' }, '1x15')],
    checks: [
      ['4m', ALERT.targetDown, []],
      ['6m', ALERT.targetDown, []],
    ],
  },
  {
    it: 'TargetMissing: fires with the service label when a service has no target at all, silent for the one that has',
    input: [s('up', { [LABEL_JOB]: SERVICE_WORKER, instance: 'video-worker:9465' }, '1x15')],
    checks: [
      ['4m', ALERT.targetMissing, []],
      [
        '10m',
        ALERT.targetMissing,
        [
          {
            exp_labels: { severity: 'critical', [LABEL_JOB]: SERVICE_API, [LABEL_SERVICE]: SERVICE_API },
            exp_annotations: ann(
              ALERT.targetMissing,
              'video-api has no scrape target',
              `Prometheus has had no video-api target at all for ${TARGET_MISSING_FOR}: the service is not deployed, renamed, or service discovery lost it.`,
            ),
          },
        ],
      ],
    ],
  },
  {
    it: 'S3HighErrorRatio: fires per operation at 10 % failed calls, silent without calls',
    input: [
      s(`${S3_DURATION}_count`, { ...API, [S3_LABELS.operation]: 'get_object', [S3_LABELS.outcome]: 'success' }, counter(54, 30)),
      s(`${S3_DURATION}_count`, { ...API, [S3_LABELS.operation]: 'get_object', [S3_LABELS.outcome]: 'error' }, counter(6, 30)),
      s(`${S3_DURATION}_count`, { ...API, [S3_LABELS.operation]: 'put_object', [S3_LABELS.outcome]: 'error' }, '0x30'),
      s(`${S3_DURATION}_count`, { ...API, [S3_LABELS.operation]: 'put_object', [S3_LABELS.outcome]: 'success' }, '0x30'),
    ],
    checks: [
      ['4m', ALERT.s3HighErrorRatio, []],
      [
        '10m',
        ALERT.s3HighErrorRatio,
        [
          {
            exp_labels: { severity: 'warning', ...API, [S3_LABELS.operation]: 'get_object' },
            exp_annotations: ann(
              ALERT.s3HighErrorRatio,
              'S3 get_object from video-api fails at 10%',
              `More than ${pct(S3_ERROR_RATIO_THRESHOLD)} of S3 get_object calls from video-api (${ENV}) failed over the last 5m (now 10%), for ${DEPENDENCY_ALERT_FOR}.`,
            ),
          },
        ],
      ],
    ],
  },
  {
    it: 'CrmHighFailureRatio: fires per operation at 10 % failed calls, silent without calls',
    input: [
      s(`${CRM_DURATION}_count`, { ...API, [CRM_LABELS.operation]: 'upsert_contact', [CRM_LABELS.outcome]: 'success' }, counter(54, 30)),
      s(`${CRM_DURATION}_count`, { ...API, [CRM_LABELS.operation]: 'upsert_contact', [CRM_LABELS.outcome]: 'error' }, counter(6, 30)),
      s(`${CRM_DURATION}_count`, { ...API, [CRM_LABELS.operation]: 'add_note', [CRM_LABELS.outcome]: 'error' }, '3x30'),
    ],
    checks: [
      ['4m', ALERT.crmHighFailureRatio, []],
      [
        '10m',
        ALERT.crmHighFailureRatio,
        [
          {
            exp_labels: { severity: 'warning', ...API, [CRM_LABELS.operation]: 'upsert_contact' },
            exp_annotations: ann(
              ALERT.crmHighFailureRatio,
              'CRM upsert_contact calls fail at 10%',
              `More than ${pct(CRM_ERROR_RATIO_THRESHOLD)} of CRM upsert_contact calls from video-api (${ENV}) failed after retries over the last 5m (now 10%), for ${DEPENDENCY_ALERT_FOR}.`,
            ),
          },
        ],
      ],
    ],
  },
  {
    it: 'QueueBacklogGrowing: not yet just before its `for`, fires while the waiting backlog is large and growing',
    input: [s(QUEUE_JOBS, { ...WORKER, [QUEUE_LABELS.queue]: QUEUE_THUMBNAIL, [QUEUE_LABELS.state]: 'waiting' }, '0+10x60')],
    checks: [
      ['20m', ALERT.queueBacklogGrowing, []],
      [
        '25m',
        ALERT.queueBacklogGrowing,
        [
          {
            exp_labels: { severity: 'warning', ...WORKER, [QUEUE_LABELS.queue]: QUEUE_THUMBNAIL },
            exp_annotations: ann(
              ALERT.queueBacklogGrowing,
              `Queue ${QUEUE_THUMBNAIL} backlog is 250 jobs and growing`,
              `More than ${QUEUE_BACKLOG_MIN_JOBS} jobs wait in queue ${QUEUE_THUMBNAIL} (${ENV}, now 250) and the backlog kept growing over ${QUEUE_BACKLOG_WINDOW} for ${QUEUE_BACKLOG_FOR}: workers are too few, stuck or down.`,
            ),
          },
        ],
      ],
    ],
  },
  {
    it: 'QueueBacklogGrowing: stays silent when the backlog is large but stable, and when the queue is empty',
    input: [
      s(QUEUE_JOBS, { ...WORKER, [QUEUE_LABELS.queue]: QUEUE_THUMBNAIL, [QUEUE_LABELS.state]: 'waiting' }, `${QUEUE_BACKLOG_MIN_JOBS * 4}x60`),
      s(QUEUE_JOBS, { ...API, [QUEUE_LABELS.queue]: QUEUE_THUMBNAIL, [QUEUE_LABELS.state]: 'waiting' }, '0x60'),
    ],
    checks: [['40m', ALERT.queueBacklogGrowing, []]],
  },
  {
    it: 'JobHighFailureRatio: fires at 10 % final failures, silent without jobs',
    input: [
      s(`${QUEUE_JOB_DURATION}_count`, { ...WORKER, [QUEUE_LABELS.queue]: QUEUE_THUMBNAIL, [QUEUE_LABELS.outcome]: 'completed' }, counter(54, 30)),
      s(`${QUEUE_JOB_DURATION}_count`, { ...WORKER, [QUEUE_LABELS.queue]: QUEUE_THUMBNAIL, [QUEUE_LABELS.outcome]: 'failed' }, counter(6, 30)),
      s(`${QUEUE_JOB_DURATION}_count`, { ...API, [QUEUE_LABELS.queue]: QUEUE_THUMBNAIL, [QUEUE_LABELS.outcome]: 'failed' }, '2x30'),
    ],
    checks: [
      ['4m', ALERT.jobHighFailureRatio, []],
      [
        '10m',
        ALERT.jobHighFailureRatio,
        [
          {
            exp_labels: { severity: 'warning', ...WORKER, [QUEUE_LABELS.queue]: QUEUE_THUMBNAIL },
            exp_annotations: ann(
              ALERT.jobHighFailureRatio,
              `Jobs of queue ${QUEUE_THUMBNAIL} fail at 10%`,
              `More than ${pct(JOB_FAILURE_RATIO_THRESHOLD)} of ${QUEUE_THUMBNAIL} job attempts on video-worker (${ENV}) failed for good (retries exhausted) over the last 5m (now 10%).`,
            ),
          },
        ],
      ],
    ],
  },
  {
    it: `SpansDropped: not yet just before its ${SPANS_DROPPED_FOR} \`for\`, fires at 10 % dropped, also when nothing is exported at all`,
    input: [
      s(SPANS_EXPORTED, API, counter(54, 30)),
      s(SPANS_DROPPED, API, counter(6, 30)),
      s(SPANS_DROPPED, WORKER, counter(6, 30)),
      s(SPANS_EXPORTED, { ...WORKER, [LABEL_ENVIRONMENT]: 'staging' }, '7x30'),
    ],
    checks: [
      ['10m', ALERT.spansDropped, []],
      [
        '15m',
        ALERT.spansDropped,
        [
          {
            exp_labels: { severity: 'warning', ...API },
            exp_annotations: ann(
              ALERT.spansDropped,
              'video-api drops 10% of its spans',
              `More than ${pct(SPANS_DROPPED_RATIO_THRESHOLD)} of the spans video-api (${ENV}) ended were dropped instead of exported over the last 5m (now 10%): the collector is down or slow, or the batch queue is too small.`,
            ),
          },
          {
            exp_labels: { severity: 'warning', ...WORKER },
            exp_annotations: ann(
              ALERT.spansDropped,
              'video-worker drops 100% of its spans',
              `More than ${pct(SPANS_DROPPED_RATIO_THRESHOLD)} of the spans video-worker (${ENV}) ended were dropped instead of exported over the last 5m (now 100%): the collector is down or slow, or the batch queue is too small.`,
            ),
          },
        ],
      ],
    ],
  },
];

/** The promtool test file (rule files relative to alerts/tests/). */
export function promtoolTestYaml(ruleFiles: string[]): string {
  const head = stringify({ rule_files: ruleFiles.map((f) => `../generated/${f}`), evaluation_interval: '1m' }, { lineWidth: 0 });
  const tests = CASES.map((c) => {
    const body = stringify(
      [
        {
          interval: '1m',
          input_series: c.input,
          alert_rule_test: c.checks.map(([evalTime, alertname, exp]) => ({ eval_time: evalTime, alertname, exp_alerts: exp })),
        },
      ],
      { lineWidth: 0 },
    );
    return `  # It: ${c.it}\n${body
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n')}`;
  });
  return `# Generated by \`npm run generate\` from alerts/tests/cases.ts. Run: promtool test rules alerts/tests/alerts.test.yml\n${head}tests:\n${tests.join('\n\n')}\n`;
}
