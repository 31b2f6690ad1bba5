// Every rule file the generator writes to alerts/generated/.
import { dependencyAlertGroup } from './dependencies.ts';
import type { AlertConfig, RuleFile } from './model.ts';
import { sloRecordingGroup } from './recording.ts';
import { defaultAlertConfig, serviceAlertGroup } from './service.ts';
import { targetAlertGroup } from './targets.ts';
import { telemetryAlertGroup } from './telemetry.ts';

export { defaultAlertConfig };
export type { AlertConfig, AlertingRule, RecordingRule, Rule, RuleFile, RuleGroup } from './model.ts';

export function defaultRuleFiles(cfg: AlertConfig = defaultAlertConfig): RuleFile[] {
  return [
    { file: 'slo-recording.yml', groups: [sloRecordingGroup([cfg.errorRatioWindow])] },
    { file: 'service-alerts.yml', groups: [serviceAlertGroup(cfg)] },
    { file: 'target-alerts.yml', groups: [targetAlertGroup()] },
    { file: 'dependency-alerts.yml', groups: [dependencyAlertGroup()] },
    { file: 'telemetry-alerts.yml', groups: [telemetryAlertGroup()] },
  ];
}
