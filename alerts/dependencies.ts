// Dependency alerts: S3 error ratio, CRM failure ratio, queue backlog and job failures.
import {
  ALERT,
  CRM_DURATION,
  CRM_ERROR_RATIO_THRESHOLD,
  CRM_LABELS,
  DEPENDENCY_ALERT_FOR,
  DEPENDENCY_WINDOW,
  JOB_FAILURE_RATIO_THRESHOLD,
  QUEUE_BACKLOG_FOR,
  QUEUE_BACKLOG_MIN_JOBS,
  QUEUE_BACKLOG_WINDOW,
  QUEUE_JOBS,
  QUEUE_JOB_DURATION,
  QUEUE_LABELS,
  S3_ERROR_RATIO_THRESHOLD,
  S3_LABELS,
  SERVICE_LABELS,
  counterRate,
  s3ErrorRatio,
  safeRatio,
  sel,
} from '../src/signals/index.ts';
import { alertRule, pct, type AlertingRule, type RuleGroup } from './model.ts';

export function s3HighErrorRatioAlert(): AlertingRule {
  return alertRule({
    alert: ALERT.s3HighErrorRatio,
    expr: `${s3ErrorRatio(DEPENDENCY_WINDOW, {}, [...SERVICE_LABELS, S3_LABELS.operation])} > ${S3_ERROR_RATIO_THRESHOLD}`,
    for: DEPENDENCY_ALERT_FOR,
    labels: { severity: 'warning' },
    summary: 'S3 {{ $labels.s3_operation }} from {{ $labels.service_name }} fails at {{ $value | humanizePercentage }}',
    description:
      `More than ${pct(S3_ERROR_RATIO_THRESHOLD)} of S3 {{ $labels.s3_operation }} calls from {{ $labels.service_name }} ` +
      `({{ $labels.deployment_environment }}) failed over the last ${DEPENDENCY_WINDOW} (now {{ $value | humanizePercentage }}), for ${DEPENDENCY_ALERT_FOR}.`,
  });
}

export function crmHighFailureRatioAlert(): AlertingRule {
  const g = [...SERVICE_LABELS, CRM_LABELS.operation];
  const failed = counterRate(`${CRM_DURATION}_count`, DEPENDENCY_WINDOW, { [CRM_LABELS.outcome]: 'error' }, g);
  const all = counterRate(`${CRM_DURATION}_count`, DEPENDENCY_WINDOW, {}, g);
  return alertRule({
    alert: ALERT.crmHighFailureRatio,
    expr: `${safeRatio(failed, all)} > ${CRM_ERROR_RATIO_THRESHOLD}`,
    for: DEPENDENCY_ALERT_FOR,
    labels: { severity: 'warning' },
    summary: 'CRM {{ $labels.crm_operation }} calls fail at {{ $value | humanizePercentage }}',
    description:
      `More than ${pct(CRM_ERROR_RATIO_THRESHOLD)} of CRM {{ $labels.crm_operation }} calls from {{ $labels.service_name }} ` +
      `({{ $labels.deployment_environment }}) failed after retries over the last ${DEPENDENCY_WINDOW} (now {{ $value | humanizePercentage }}), for ${DEPENDENCY_ALERT_FOR}.`,
  });
}

export function queueBacklogGrowingAlert(): AlertingRule {
  const waiting = `${QUEUE_JOBS}${sel({ [QUEUE_LABELS.state]: 'waiting' })}`;
  return alertRule({
    alert: ALERT.queueBacklogGrowing,
    expr: `max by (${[...SERVICE_LABELS, QUEUE_LABELS.queue].join(', ')}) (${waiting}) > ${QUEUE_BACKLOG_MIN_JOBS}\nand\nmax by (${[...SERVICE_LABELS, QUEUE_LABELS.queue].join(', ')}) (deriv(${waiting}[${QUEUE_BACKLOG_WINDOW}])) > 0`,
    for: QUEUE_BACKLOG_FOR,
    labels: { severity: 'warning' },
    summary: 'Queue {{ $labels.queue }} backlog is {{ $value }} jobs and growing',
    description:
      `More than ${QUEUE_BACKLOG_MIN_JOBS} jobs wait in queue {{ $labels.queue }} ({{ $labels.deployment_environment }}, now {{ $value }}) ` +
      `and the backlog kept growing over ${QUEUE_BACKLOG_WINDOW} for ${QUEUE_BACKLOG_FOR}: workers are too few, stuck or down.`,
  });
}

export function jobHighFailureRatioAlert(): AlertingRule {
  const g = [...SERVICE_LABELS, QUEUE_LABELS.queue];
  const failed = counterRate(`${QUEUE_JOB_DURATION}_count`, DEPENDENCY_WINDOW, { [QUEUE_LABELS.outcome]: 'failed' }, g);
  const all = counterRate(`${QUEUE_JOB_DURATION}_count`, DEPENDENCY_WINDOW, {}, g);
  return alertRule({
    alert: ALERT.jobHighFailureRatio,
    expr: `${safeRatio(failed, all)} > ${JOB_FAILURE_RATIO_THRESHOLD}`,
    for: DEPENDENCY_ALERT_FOR,
    labels: { severity: 'warning' },
    summary: 'Jobs of queue {{ $labels.queue }} fail at {{ $value | humanizePercentage }}',
    description:
      `More than ${pct(JOB_FAILURE_RATIO_THRESHOLD)} of {{ $labels.queue }} job attempts on {{ $labels.service_name }} ` +
      `({{ $labels.deployment_environment }}) failed for good (retries exhausted) over the last ${DEPENDENCY_WINDOW} (now {{ $value | humanizePercentage }}).`,
  });
}

export function dependencyAlertGroup(): RuleGroup {
  return {
    name: 'video-dependencies',
    rules: [s3HighErrorRatioAlert(), crmHighFailureRatioAlert(), queueBacklogGrowingAlert(), jobHighFailureRatioAlert()],
  };
}
