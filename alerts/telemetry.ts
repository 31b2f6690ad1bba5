// Telemetry pipeline alerts: spans dropped by the batch span processor.
import {
  ALERT,
  DEPENDENCY_WINDOW,
  SERVICE_LABELS,
  SPANS_DROPPED,
  SPANS_DROPPED_FOR,
  SPANS_DROPPED_RATIO_THRESHOLD,
  counterRate,
  safeRatio,
  spansHandled,
} from '../src/signals/index.ts';
import { alertRule, pct, type AlertingRule, type RuleGroup } from './model.ts';

export function spansDroppedAlert(): AlertingRule {
  const dropped = counterRate(SPANS_DROPPED, DEPENDENCY_WINDOW, {}, SERVICE_LABELS);
  const handled = spansHandled(DEPENDENCY_WINDOW, {}, SERVICE_LABELS);
  return alertRule({
    alert: ALERT.spansDropped,
    expr: `${safeRatio(dropped, handled)} > ${SPANS_DROPPED_RATIO_THRESHOLD}`,
    for: SPANS_DROPPED_FOR,
    labels: { severity: 'warning' },
    summary: '{{ $labels.service_name }} drops {{ $value | humanizePercentage }} of its spans',
    description:
      `More than ${pct(SPANS_DROPPED_RATIO_THRESHOLD)} of the spans {{ $labels.service_name }} ({{ $labels.deployment_environment }}) ` +
      `ended were dropped instead of exported over the last ${DEPENDENCY_WINDOW} (now {{ $value | humanizePercentage }}): the collector is down or slow, or the batch queue is too small.`,
  });
}

export function telemetryAlertGroup(): RuleGroup {
  return { name: 'video-telemetry', rules: [spansDroppedAlert()] };
}
