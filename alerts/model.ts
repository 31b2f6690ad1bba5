// Prometheus rule-file model and small helpers shared by the rule groups. A group file only
// arranges rules; every query comes from src/signals/promql.ts, every number from src/signals/.
import { runbookUrl, type AlertName, type Severity } from '../src/signals/index.ts';

export interface AlertingRule {
  alert: AlertName;
  expr: string;
  for?: string;
  keep_firing_for?: string;
  labels: { severity: Severity } & Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}
export interface RecordingRule {
  record: string;
  expr: string;
  labels?: Record<string, string>;
}
export type Rule = AlertingRule | RecordingRule;
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}
export interface RuleFile {
  /** File name under alerts/generated/. */
  file: string;
  groups: RuleGroup[];
}

/**
 * Knobs of the rule builders. `defaultAlertConfig` is what ships; the end-to-end test builds a
 * test-only rule file from the same builders with shorter windows (documented in docs/alerts.md).
 */
export interface AlertConfig {
  errorRatioWindow: string;
  errorRatioFor: string;
  errorRatioKeepFiringFor: string;
  evaluationInterval?: string;
}

/** An alerting rule with its runbook link filled in from its name. */
export function alertRule(r: Omit<AlertingRule, 'annotations'> & { summary: string; description: string }): AlertingRule {
  const { summary, description, ...rest } = r;
  const rule: AlertingRule = {
    alert: rest.alert,
    expr: rest.expr,
    ...(rest.for ? { for: rest.for } : {}),
    ...(rest.keep_firing_for ? { keep_firing_for: rest.keep_firing_for } : {}),
    labels: rest.labels,
    annotations: { summary, description, runbook_url: runbookUrl(rest.alert) },
  };
  return rule;
}

/** A ratio threshold as alert text prints it (five hundredths -> `5%`). */
export function pct(ratio: number): string {
  return `${Number((ratio * 100).toPrecision(6))}%`;
}

/** `0.25` -> `250ms`, `1` -> `1s`. */
export function seconds(s: number): string {
  return s < 1 ? `${Number((s * 1000).toPrecision(6))}ms` : `${s}s`;
}
