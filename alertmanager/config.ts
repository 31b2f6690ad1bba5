// Alertmanager configuration as code (written to alertmanager/alertmanager.yml by `npm run generate`).
// Critical alerts page: email to the on-call address (compose's mail catcher, mailpit) and the
// webhook. Warnings go to the webhook only. A dead or missing target silences its own service's
// error, latency and dependency alerts: they would only repeat "it is down" in other words.
import { ALERT, ALERTS_INHIBITED_BY_DEAD_TARGET, LABEL_ENVIRONMENT, LABEL_SERVICE } from '../src/signals/index.ts';

export interface AlertmanagerOptions {
  /** Webhook receiver URL (compose: the alert-webhook sink; tests: a node:http server). */
  webhookUrl: string;
  /** SMTP smarthost (compose: mailpit:1025, which accepts any mail without TLS or auth). */
  smtpSmarthost: string;
  emailFrom: string;
  emailTo: string;
  /** Wait before the first notification of a new group (batching alerts that fire together). */
  groupWait: string;
  /** Wait before notifying about alerts added to a group that already notified. */
  groupInterval: string;
  /** Re-send a still-firing group this often. */
  repeatInterval: string;
  /** Where notification templates are mounted (compose: /etc/alertmanager/templates). */
  templatesDir: string;
}

export const defaultAlertmanagerOptions: AlertmanagerOptions = {
  webhookUrl: 'http://alert-webhook:8080/alerts',
  smtpSmarthost: 'mailpit:1025',
  emailFrom: 'alertmanager@video-platform.local',
  emailTo: 'oncall@video-platform.local',
  groupWait: '30s',
  groupInterval: '5m',
  repeatInterval: '4h',
  templatesDir: '/etc/alertmanager/templates',
};

const GROUP_BY = ['alertname', LABEL_SERVICE, LABEL_ENVIRONMENT];

export function alertmanagerConfig(o: AlertmanagerOptions = defaultAlertmanagerOptions): Record<string, unknown> {
  return {
    global: {
      smtp_smarthost: o.smtpSmarthost,
      smtp_from: o.emailFrom,
      // mailpit speaks plain SMTP; a real relay would set this to true and add credentials.
      smtp_require_tls: false,
      resolve_timeout: '5m',
    },
    templates: [`${o.templatesDir}/*.tmpl`],
    route: {
      receiver: 'webhook',
      group_by: GROUP_BY,
      group_wait: o.groupWait,
      group_interval: o.groupInterval,
      repeat_interval: o.repeatInterval,
      routes: [
        { receiver: 'page', matchers: ['severity="critical"'], continue: false },
        { receiver: 'webhook', matchers: ['severity="warning"'], continue: false },
      ],
    },
    inhibit_rules: [
      {
        // A dead or missing target: its own error/latency/dependency alerts add nothing.
        source_matchers: [`alertname=~"${ALERT.targetDown}|${ALERT.targetMissing}"`],
        target_matchers: [`alertname=~"${ALERTS_INHIBITED_BY_DEAD_TARGET.join('|')}"`],
        equal: [LABEL_SERVICE],
      },
      {
        // A critical alert silences the warning of the same name for the same service.
        source_matchers: ['severity="critical"'],
        target_matchers: ['severity="warning"'],
        equal: ['alertname', LABEL_SERVICE, LABEL_ENVIRONMENT],
      },
    ],
    receivers: [
      {
        name: 'webhook',
        webhook_configs: [{ url: o.webhookUrl, send_resolved: true }],
      },
      {
        name: 'page',
        webhook_configs: [{ url: o.webhookUrl, send_resolved: true }],
        email_configs: [
          {
            to: o.emailTo,
            send_resolved: true,
            headers: { Subject: '{{ template "video.email.subject" . }}' },
            html: '{{ template "video.email.html" . }}',
          },
        ],
      },
    ],
  };
}

/** Notification templates (alertmanager/templates/video.tmpl): subject and body with the runbook link. */
export const EMAIL_TEMPLATE = `{{ define "video.email.subject" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.alertname }} {{ .GroupLabels.service_name }} ({{ .GroupLabels.deployment_environment }}){{ end }}

{{ define "video.email.html" }}
<h2>{{ .GroupLabels.alertname }} on {{ .GroupLabels.service_name }}</h2>
{{ range .Alerts }}
<p><b>[{{ .Status }}] {{ .Annotations.summary }}</b> (severity {{ .Labels.severity }})<br>
{{ .Annotations.description }}<br>
Runbook: <a href="{{ .Annotations.runbook_url }}">{{ .Annotations.runbook_url }}</a><br>
Started: {{ .StartsAt }}</p>
{{ end }}
{{ end }}
`;
