// Service alerts: error ratio (per service and per route class), P95 over objective per route
// class, and multi-window multi-burn-rate alerts for availability and latency.
import {
  ALERT,
  AVAILABILITY_OBJECTIVE,
  BURN_RATE_KEEP_FIRING_FOR,
  BURN_RATE_WINDOWS,
  ERROR_RATIO_FOR,
  ERROR_RATIO_KEEP_FIRING_FOR,
  ERROR_RATIO_THRESHOLD,
  ERROR_RATIO_WINDOW,
  HTTP_LABELS,
  LATENCY_FOR,
  LATENCY_OBJECTIVE_SECONDS,
  LATENCY_QUANTILE,
  LATENCY_SLO_OBJECTIVE,
  LATENCY_WINDOW,
  ROUTE_CLASSES,
  ROUTE_CLASS_ERROR_RATIO_FOR,
  SERVICE_LABELS,
  SLO_LABELS,
  SLO_PERIOD,
  burnRateThreshold,
  latencyQuantile,
  recordedErrorRatio,
  recordedSlowRatio,
} from '../src/signals/index.ts';
import { alertRule, pct, seconds, type AlertConfig, type AlertingRule, type RuleGroup } from './model.ts';

export const defaultAlertConfig: AlertConfig = {
  errorRatioWindow: ERROR_RATIO_WINDOW,
  errorRatioFor: ERROR_RATIO_FOR,
  errorRatioKeepFiringFor: ERROR_RATIO_KEEP_FIRING_FOR,
};

/** 5xx share of a service's requests above ERROR_RATIO_THRESHOLD. */
export function highErrorRatioAlert(cfg: AlertConfig = defaultAlertConfig): AlertingRule {
  return alertRule({
    alert: ALERT.highErrorRatio,
    expr: `${recordedErrorRatio(cfg.errorRatioWindow, SERVICE_LABELS)} > ${ERROR_RATIO_THRESHOLD}`,
    for: cfg.errorRatioFor,
    keep_firing_for: cfg.errorRatioKeepFiringFor,
    labels: { severity: 'critical' },
    summary: '{{ $labels.service_name }} answers {{ $value | humanizePercentage }} of requests with 5xx',
    description:
      `More than ${pct(ERROR_RATIO_THRESHOLD)} of {{ $labels.service_name }} requests in {{ $labels.deployment_environment }} ` +
      `failed with a 5xx over the last ${cfg.errorRatioWindow} (now {{ $value | humanizePercentage }}), for at least ${cfg.errorRatioFor}.`,
  });
}

/** The same threshold per route class: which part of the API is failing. */
export function routeClassHighErrorRatioAlert(cfg: AlertConfig = defaultAlertConfig): AlertingRule {
  return alertRule({
    alert: ALERT.routeClassHighErrorRatio,
    expr: `${recordedErrorRatio(cfg.errorRatioWindow, SLO_LABELS)} > ${ERROR_RATIO_THRESHOLD}`,
    for: ROUTE_CLASS_ERROR_RATIO_FOR,
    keep_firing_for: cfg.errorRatioKeepFiringFor,
    labels: { severity: 'warning' },
    summary: '{{ $labels.route_class }} requests on {{ $labels.service_name }} fail at {{ $value | humanizePercentage }}',
    description:
      `More than ${pct(ERROR_RATIO_THRESHOLD)} of {{ $labels.route_class }} requests on {{ $labels.service_name }} ` +
      `({{ $labels.deployment_environment }}) failed with a 5xx over the last ${cfg.errorRatioWindow} (now {{ $value | humanizePercentage }}).`,
  });
}

/** One rule per route class, so each description prints that class's own objective. */
export function latencyOverObjectiveAlerts(): AlertingRule[] {
  return ROUTE_CLASSES.map((cls) => {
    const objective = LATENCY_OBJECTIVE_SECONDS[cls];
    return alertRule({
      alert: ALERT.latencyOverObjective,
      expr: `${latencyQuantile(LATENCY_QUANTILE, LATENCY_WINDOW, { [HTTP_LABELS.routeClass]: cls }, SLO_LABELS)} > ${objective}`,
      for: LATENCY_FOR,
      // The class as a static label too: one rule per class, each with its own identity.
      labels: { severity: 'warning', [HTTP_LABELS.routeClass]: cls },
      summary: `P${LATENCY_QUANTILE * 100} of ${cls} requests on {{ $labels.service_name }} is {{ $value | humanizeDuration }}`,
      description:
        `P${LATENCY_QUANTILE * 100} latency of route class ${cls} on {{ $labels.service_name }} ({{ $labels.deployment_environment }}) ` +
        `is {{ $value | humanizeDuration }} over the last ${LATENCY_WINDOW}, above its objective of ${seconds(objective)}, for at least ${LATENCY_FOR}.`,
    });
  });
}

/** Multi-window multi-burn-rate alerts on the availability SLO (share of non-5xx responses). */
export function availabilityBurnAlerts(): AlertingRule[] {
  return BURN_RATE_WINDOWS.map((w) => {
    const t = burnRateThreshold(w.factor, AVAILABILITY_OBJECTIVE);
    return alertRule({
      alert: ALERT.availabilityBudgetBurn,
      expr: `(${recordedErrorRatio(w.long)}) > ${t}\nand\n(${recordedErrorRatio(w.short)}) > ${t}`,
      for: w.for,
      keep_firing_for: BURN_RATE_KEEP_FIRING_FOR,
      labels: { severity: w.severity, long_window: w.long, short_window: w.short },
      summary: `{{ $labels.service_name }} burns its availability error budget ${w.factor}x too fast`,
      description:
        `The 5xx ratio of {{ $labels.service_name }} ({{ $labels.deployment_environment }}) is above ${pct(t)} over both ${w.long} and ${w.short} ` +
        `(now {{ $value | humanizePercentage }} over ${w.long}): ${w.factor}x the burn rate that spends the ${pct(1 - AVAILABILITY_OBJECTIVE)} ` +
        `error budget of the ${pct(AVAILABILITY_OBJECTIVE)} availability SLO in ${SLO_PERIOD}.`,
    });
  });
}

/** Multi-window multi-burn-rate alerts on the latency SLO (share of requests within their class objective). */
export function latencyBurnAlerts(): AlertingRule[] {
  return BURN_RATE_WINDOWS.map((w) => {
    const t = burnRateThreshold(w.factor, LATENCY_SLO_OBJECTIVE);
    return alertRule({
      alert: ALERT.latencyBudgetBurn,
      expr: `(${recordedSlowRatio(w.long)}) > ${t}\nand\n(${recordedSlowRatio(w.short)}) > ${t}`,
      for: w.for,
      keep_firing_for: BURN_RATE_KEEP_FIRING_FOR,
      labels: { severity: w.severity, long_window: w.long, short_window: w.short },
      summary: `{{ $labels.service_name }} burns its latency error budget ${w.factor}x too fast`,
      description:
        `More than ${pct(t)} of {{ $labels.service_name }} requests ({{ $labels.deployment_environment }}) were slower than their route class objective ` +
        `over both ${w.long} and ${w.short} (now {{ $value | humanizePercentage }} over ${w.long}): ${w.factor}x the burn rate that spends the ` +
        `${pct(1 - LATENCY_SLO_OBJECTIVE)} budget of the ${pct(LATENCY_SLO_OBJECTIVE)} latency SLO in ${SLO_PERIOD}.`,
    });
  });
}

export function serviceAlertGroup(cfg: AlertConfig = defaultAlertConfig): RuleGroup {
  return {
    name: 'video-service-alerts',
    rules: [
      highErrorRatioAlert(cfg),
      routeClassHighErrorRatioAlert(cfg),
      ...latencyOverObjectiveAlerts(),
      ...availabilityBurnAlerts(),
      ...latencyBurnAlerts(),
    ],
  };
}
