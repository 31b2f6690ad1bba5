// The generated Prometheus rules and Alertmanager config, checked by the real tools:
// `promtool check rules`, `promtool test rules` (alerts/tests/alerts.test.yml, one sentence per
// case) and `amtool check-config`; plus the contract every alert must keep.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultRuleFiles, type AlertingRule } from '../alerts/index.ts';
import { CASES } from '../alerts/tests/cases.ts';
import {
  ALERT,
  ALERTS_INHIBITED_BY_DEAD_TARGET,
  CRM_ERROR_RATIO_THRESHOLD,
  ERROR_RATIO_THRESHOLD,
  JOB_FAILURE_RATIO_THRESHOLD,
  LATENCY_OBJECTIVE_SECONDS,
  ROUTE_CLASSES,
  RUNBOOK_BASE_URL,
  S3_ERROR_RATIO_THRESHOLD,
  SEVERITIES,
  SPANS_DROPPED_RATIO_THRESHOLD,
} from '../src/signals/index.ts';
import { pct, seconds } from '../alerts/model.ts';
import { ROOT } from '../scripts/generate.ts';
import { requireBinary } from './harness/process.ts';

const PROMTOOL_HINT = 'apt-get install -y prometheus (Debian ships promtool with it)';
const AMTOOL_HINT = 'apt-get install -y prometheus-alertmanager (Debian ships amtool with it)';
const generatedDir = join(ROOT, 'alerts/generated');
const ruleFiles = readdirSync(generatedDir).filter((f) => f.endsWith('.yml'));
const alerts: AlertingRule[] = defaultRuleFiles().flatMap((f) => f.groups.flatMap((g) => g.rules.filter((r): r is AlertingRule => 'alert' in r)));

function run(bin: string, args: string[], cwd = ROOT) {
  const r = spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

describe('Prometheus rule files', () => {
  it('pass promtool check rules (syntax, templates, no duplicate rules)', () => {
    const promtool = requireBinary('promtool', PROMTOOL_HINT);
    const r = run(promtool, ['check', 'rules', ...ruleFiles.map((f) => join(generatedDir, f))]);
    expect(r.out).not.toContain('FAILED');
    expect(r.code, r.out).toBe(0);
  });

  it('pass every promtool unit test: not yet before `for`, fires with exact labels and annotations, silent without traffic, dead target', () => {
    const promtool = requireBinary('promtool', PROMTOOL_HINT);
    const r = run(promtool, ['test', 'rules', 'alerts.test.yml'], join(ROOT, 'alerts/tests'));
    expect(r.out, r.out).toContain('SUCCESS');
    expect(r.code, r.out).toBe(0);
  });

  it('have a unit test case for every alert, including a firing expectation', () => {
    const firing = new Set(CASES.flatMap((c) => c.checks.filter(([, , exp]) => exp.length > 0).map(([, name]) => name)));
    const tested = new Set(CASES.flatMap((c) => c.checks.map(([, name]) => name)));
    for (const name of new Set(alerts.map((a) => a.alert))) {
      expect(tested.has(name), `${name} has a promtool test`).toBe(true);
      if (name !== ALERT.targetDown) expect(firing.has(name), `${name} has a "fires" case`).toBe(true);
    }
    // TargetDown's firing case lives in the dead-target case of HighErrorRatio.
    expect(firing.has(ALERT.targetDown)).toBe(true);
  });

  it('give every alert a severity, a summary, a description and a runbook that exists', () => {
    for (const a of alerts) {
      expect(SEVERITIES, a.alert).toContain(a.labels.severity);
      expect(a.annotations.summary.length, a.alert).toBeGreaterThan(10);
      expect(a.annotations.description.length, a.alert).toBeGreaterThan(20);
      expect(a.annotations.runbook_url).toBe(`${RUNBOOK_BASE_URL}/${a.alert}.md`);
      expect(existsSync(join(ROOT, 'docs/runbooks', `${a.alert}.md`)), `docs/runbooks/${a.alert}.md`).toBe(true);
    }
  });

  it('print the real threshold from src/signals in every description', () => {
    const expectIn = (name: string, text: string) => {
      const descs = alerts.filter((a) => a.alert === name).map((a) => a.annotations.description);
      expect(descs.length, name).toBeGreaterThan(0);
      for (const d of descs) expect(d).toContain(text);
    };
    expectIn(ALERT.highErrorRatio, pct(ERROR_RATIO_THRESHOLD));
    expectIn(ALERT.routeClassHighErrorRatio, pct(ERROR_RATIO_THRESHOLD));
    expectIn(ALERT.s3HighErrorRatio, pct(S3_ERROR_RATIO_THRESHOLD));
    expectIn(ALERT.crmHighFailureRatio, pct(CRM_ERROR_RATIO_THRESHOLD));
    expectIn(ALERT.jobHighFailureRatio, pct(JOB_FAILURE_RATIO_THRESHOLD));
    expectIn(ALERT.spansDropped, pct(SPANS_DROPPED_RATIO_THRESHOLD));
    const latency = alerts.filter((a) => a.alert === ALERT.latencyOverObjective);
    expect(latency.map((a) => a.labels.route_class).sort()).toEqual([...ROUTE_CLASSES].sort());
    for (const a of latency) {
      const cls = a.labels.route_class as (typeof ROUTE_CLASSES)[number];
      expect(a.annotations.description).toContain(`objective of ${seconds(LATENCY_OBJECTIVE_SECONDS[cls])}`);
      expect(a.expr).toMatch(new RegExp(`> ${LATENCY_OBJECTIVE_SECONDS[cls]}$`));
    }
    for (const a of alerts) expect(a.annotations.description, a.alert).not.toMatch(/xxx|TODO/i);
  });

  it('never divide by a rate that can be zero', () => {
    for (const a of alerts) {
      const divisions = a.expr.split(' / ').length - 1;
      const guarded = (a.expr.match(/\/ \(/g) ?? []).length;
      expect(guarded, `${a.alert}: every division is by a ( ... > 0) guard`).toBe(divisions);
      if (divisions) expect(a.expr, a.alert).toContain('> 0)');
    }
  });
});

describe('Alertmanager config', () => {
  const amConfig = join(ROOT, 'alertmanager/alertmanager.yml');

  it('passes amtool check-config', () => {
    const amtool = requireBinary('amtool', AMTOOL_HINT);
    const r = run(amtool, ['check-config', amConfig]);
    expect(r.out).toContain('SUCCESS');
    expect(r.code, r.out).toBe(0);
  });

  it('routes critical alerts to email and webhook, warnings to the webhook, grouped by alert and service', () => {
    const amtool = requireBinary('amtool', AMTOOL_HINT);
    const route = (labels: string[]) => run(amtool, ['config', 'routes', 'test', '--config.file', amConfig, ...labels]).stdout.trim();
    expect(route(['alertname=HighErrorRatio', 'severity=critical', 'service_name=video-api'])).toBe('page');
    expect(route(['alertname=S3HighErrorRatio', 'severity=warning', 'service_name=video-api'])).toBe('webhook');
    const cfg = parse(readFileSync(amConfig, 'utf8'));
    expect(cfg.route.group_by).toEqual(['alertname', 'service_name', 'deployment_environment']);
    const page = cfg.receivers.find((r: { name: string }) => r.name === 'page');
    expect(page.email_configs[0].to).toMatch(/@/);
    expect(cfg.global.smtp_smarthost).toBe('mailpit:1025');
    expect(page.webhook_configs[0].url).toMatch(/^http/);
  });

  it('inhibits a service\'s error, latency and dependency alerts while its target is dead', () => {
    const cfg = parse(readFileSync(amConfig, 'utf8'));
    const rule = cfg.inhibit_rules[0];
    expect(rule.source_matchers[0]).toBe(`alertname=~"${ALERT.targetDown}|${ALERT.targetMissing}"`);
    for (const name of [ALERT.highErrorRatio, ALERT.latencyOverObjective, ALERT.availabilityBudgetBurn]) {
      expect(ALERTS_INHIBITED_BY_DEAD_TARGET).toContain(name);
      expect(rule.target_matchers[0]).toContain(name);
    }
    expect(rule.equal).toEqual(['service_name']);
  });
});
