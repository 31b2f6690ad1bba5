// Dead or missing scrape targets. Both carry `service_name`, so Alertmanager can inhibit that
// service's latency and error alerts while its target is dead (alertmanager/config.ts).
import {
  ALERT,
  LABEL_JOB,
  LABEL_SERVICE,
  SERVICES,
  TARGET_DOWN_FOR,
  TARGET_MISSING_FOR,
  targetUp,
} from '../src/signals/index.ts';
import { alertRule, type AlertingRule, type RuleGroup } from './model.ts';

export function targetDownAlert(): AlertingRule {
  return alertRule({
    alert: ALERT.targetDown,
    // up has `job` (= service name); copy it to service_name for routing and inhibition.
    expr: `label_replace(${targetUp(SERVICES)} == 0, "${LABEL_SERVICE}", "$1", "${LABEL_JOB}", "(.*)")`,
    for: TARGET_DOWN_FOR,
    labels: { severity: 'critical' },
    summary: '{{ $labels.service_name }} target {{ $labels.instance }} is down',
    description: `Prometheus could not scrape {{ $labels.service_name }} at {{ $labels.instance }} for ${TARGET_DOWN_FOR}: the process is dead, hung or unreachable.`,
  });
}

export function targetMissingAlerts(): AlertingRule[] {
  return SERVICES.map((service) =>
    alertRule({
      alert: ALERT.targetMissing,
      expr: `absent(up{${LABEL_JOB}="${service}"})`,
      for: TARGET_MISSING_FOR,
      labels: { severity: 'critical', [LABEL_SERVICE]: service },
      summary: `${service} has no scrape target`,
      description: `Prometheus has had no ${service} target at all for ${TARGET_MISSING_FOR}: the service is not deployed, renamed, or service discovery lost it.`,
    }),
  );
}

export function targetAlertGroup(): RuleGroup {
  return { name: 'video-targets', rules: [targetDownAlert(), ...targetMissingAlerts()] };
}
