// End-to-end alert: video-api with fault injection on (FAULT_ERROR_RATIO) -> real Prometheus
// evaluating the HighErrorRatio rule -> real Alertmanager -> a webhook receiver (node:http in this
// test). Prints the seconds from the first faulty request to the notification.
// The rule file is TEST-ONLY: the same builders (alerts/service.ts, alerts/recording.ts) with a
// 10 s window, `for: 2s` and no keep_firing_for, so the test takes seconds, not the shipped 5m + 5m.
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRuleFiles } from '../alerts/index.ts';
import { EMAIL_TEMPLATE, alertmanagerConfig, defaultAlertmanagerOptions } from '../alertmanager/config.ts';
import { ALERT, ERROR_RATIO_THRESHOLD, LABEL_SERVICE, SERVICE_API, runbookUrl } from '../src/signals/index.ts';
import { pct } from '../alerts/model.ts';
import { ruleFileYaml } from '../scripts/generate.ts';
import { startApp, type StartedApp } from './harness/app.ts';
import { startAlertmanager, type AlertmanagerHandle } from './harness/alertmanager.ts';
import { startOtlpReceiver, type OtlpReceiver } from './harness/otlp-receiver.ts';
import { tempDir, waitFor } from './harness/process.ts';
import { startPrometheus, type PrometheusHandle } from './harness/prometheus.ts';

interface WebhookAlert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface WebhookBody {
  receiver: string;
  status: string;
  alerts: WebhookAlert[];
}

const FAULT_RATIO = 0.5;
const tmp = tempDir('live-alert');
const received: { at: number; body: WebhookBody }[] = [];
let webhook: Server;
let app: StartedApp;
let am: AlertmanagerHandle;
let prom: PrometheusHandle;
let webhookUrl = '';
let otlp: OtlpReceiver;
let smtp: TcpServer;
const mails: { from: string; to: string[]; data: string }[] = [];

/** A minimal SMTP sink (what mailpit is in compose): accepts every message and keeps it. */
function startSmtpSink(): Promise<number> {
  smtp = createTcpServer((sock) => {
    let buf = '';
    let inData = false;
    let mail = { from: '', to: [] as string[], data: '' };
    const say = (line: string) => sock.write(`${line}\r\n`);
    say('220 sink ESMTP');
    sock.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          mail.data = buf.slice(0, end);
          buf = buf.slice(end + 5);
          inData = false;
          mails.push(mail);
          mail = { from: '', to: [], data: '' };
          say('250 OK queued');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const cmd = line.slice(0, 4).toUpperCase();
        if (cmd === 'MAIL') mail.from = line;
        else if (cmd === 'RCPT') mail.to.push(line);
        else if (cmd === 'DATA') inData = true;
        if (cmd === 'DATA') say('354 go ahead');
        else if (cmd === 'QUIT') {
          say('221 bye');
          sock.end();
        } else say(cmd === 'EHLO' || cmd === 'HELO' ? '250 sink' : '250 OK');
      }
    });
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) =>
    smtp.listen(0, '127.0.0.1', () => {
      const a = smtp.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    }),
  );
}

beforeAll(async () => {
  webhook = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      received.push({ at: Date.now(), body: JSON.parse(data) as WebhookBody });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', () => r()));
  const addr = webhook.address();
  webhookUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/alerts`;
  // Email goes to a local SMTP sink standing in for compose's mailpit.
  const smtpPort = await startSmtpSink();
  am = await startAlertmanager(
    alertmanagerConfig({ ...defaultAlertmanagerOptions, webhookUrl, smtpSmarthost: `127.0.0.1:${smtpPort}`, groupWait: '1s', groupInterval: '1s', repeatInterval: '1h' }),
    { 'video.tmpl': EMAIL_TEMPLATE },
  );
  const files = defaultRuleFiles({ errorRatioWindow: '10s', errorRatioFor: '2s', errorRatioKeepFiringFor: '0s' }).filter((f) =>
    ['slo-recording.yml', 'service-alerts.yml'].includes(f.file),
  );
  const paths = files.map((f) => {
    const p = join(tmp.path, `test-only-${f.file}`);
    writeFileSync(p, ruleFileYaml(f));
    return p;
  });
  // The request-duration histogram is recorded by the telemetry's HTTP instrumentation: telemetry on, spans to a local receiver.
  otlp = await startOtlpReceiver();
  app = await startApp({ mode: 'process', env: { FAULT_ERROR_RATIO: String(FAULT_RATIO), OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_METRICS_EXPORTER: 'none' } });
  prom = await startPrometheus({
    targets: [{ job: SERVICE_API, target: new URL(app.metricsUrl as string).host }],
    ruleFiles: paths,
    alertmanager: am.address,
    scrapeInterval: '1s',
  });
  await waitFor(async () => (await prom.targetHealth())[SERVICE_API] === 'up', 20_000, 'video-api target up');
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await am?.stop();
  await app?.stop();
  await otlp?.stop();
  await new Promise<void>((r) => (webhook ? webhook.close(() => r()) : r()));
  await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
  tmp.cleanup();
});

describe('end-to-end alert', () => {
  it('fires HighErrorRatio in Prometheus and delivers it through Alertmanager to the webhook with its runbook', async () => {
    const faultOn = Date.now();
    let stop = false;
    const traffic = (async () => {
      // Bounded: the waitFor below gives up after 60 s and sets stop.
      while (!stop && Date.now() - faultOn < 70_000) {
        await Promise.all(
          Array.from({ length: 5 }, () => fetch(`${app.url}/api/videos/missing.mp4`, { redirect: 'manual' }).then((r) => r.arrayBuffer()).catch(() => undefined)),
        );
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const firing = () =>
      received.find((n) => n.body.alerts.some((a) => a.status === 'firing' && a.labels.alertname === ALERT.highErrorRatio && a.labels[LABEL_SERVICE] === SERVICE_API));
    try {
      await waitFor(() => firing() !== undefined, 60_000, 'the HighErrorRatio notification at the webhook');
    } catch (err) {
      const rules = await prom.query('{__name__=~"service_name_route_class:.*rate10s|http_server_request_duration_seconds_count"}');
      throw new Error(
        `${(err as Error).message}\nPrometheus alerts: ${JSON.stringify(await prom.alerts())}\nrecorded: ${JSON.stringify(rules)}\nwebhook got: ${JSON.stringify(received)}\nalertmanager: ${am.output()}\nprometheus: ${prom.output()}`,
        { cause: err },
      );
    } finally {
      stop = true;
      await traffic;
    }
    const n = firing()!;
    const seconds = (n.at - faultOn) / 1000;
    console.log(`fault on -> HighErrorRatio notification at the webhook: ${seconds.toFixed(1)} s (test-only rules: 10s window, for 2s; Alertmanager group_wait 1s)`);
    const alert = n.body.alerts.find((a) => a.labels.alertname === ALERT.highErrorRatio)!;
    expect(n.body.receiver).toBe('page');
    expect(alert.labels.severity).toBe('critical');
    expect(alert.annotations.runbook_url).toBe(runbookUrl(ALERT.highErrorRatio));
    expect(alert.annotations.description).toContain(`More than ${pct(ERROR_RATIO_THRESHOLD)} of video-api requests`);
    expect(seconds).toBeLessThan(60);
    // Prometheus agrees: the alert is firing there too.
    const active = await prom.alerts();
    expect(active.some((a) => a.labels.alertname === ALERT.highErrorRatio && a.state === 'firing')).toBe(true);
  }, 120_000);

  it('emails the page to the on-call address with the summary, description and runbook link', async () => {
    await waitFor(() => mails.some((m) => m.data.includes(ALERT.highErrorRatio)), 30_000, 'the HighErrorRatio email');
    const mail = mails.find((m) => m.data.includes(ALERT.highErrorRatio))!;
    expect(mail.to.join(' ')).toContain(defaultAlertmanagerOptions.emailTo);
    const body = mail.data.replace(/=\r\n/g, '').replace(/=3D/g, '=');
    expect(body).toMatch(/Subject: \[FIRING:\d+\] HighErrorRatio video-api/);
    expect(body).toContain(runbookUrl(ALERT.highErrorRatio));
    expect(body).toContain(`More than ${pct(ERROR_RATIO_THRESHOLD)} of video-api requests`);
  }, 60_000);

  it("inhibits a service's error alerts in Alertmanager while its target is down", async () => {
    const now = new Date().toISOString();
    const post = (labels: Record<string, string>) => ({ labels: { ...labels, deployment_environment: 'test' }, annotations: { summary: 'synthetic' }, startsAt: now });
    const res = await fetch(`${am.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        post({ alertname: ALERT.targetDown, severity: 'critical', [LABEL_SERVICE]: 'video-inhibit-test', job: 'video-inhibit-test' }),
        post({ alertname: ALERT.highErrorRatio, severity: 'critical', [LABEL_SERVICE]: 'video-inhibit-test' }),
        post({ alertname: ALERT.highErrorRatio, severity: 'critical', [LABEL_SERVICE]: 'video-other-test' }),
      ]),
    });
    expect(res.ok).toBe(true);
    type AmAlert = { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } };
    const state = async () => (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as AmAlert[];
    const find = (all: AmAlert[], name: string, svc: string) => all.find((a) => a.labels.alertname === name && a.labels[LABEL_SERVICE] === svc);
    await waitFor(async () => find(await state(), ALERT.highErrorRatio, 'video-inhibit-test')?.status.state === 'suppressed', 15_000, 'the inhibited alert');
    const all = await state();
    expect(find(all, ALERT.highErrorRatio, 'video-inhibit-test')?.status.inhibitedBy.length).toBe(1);
    expect(find(all, ALERT.highErrorRatio, 'video-other-test')?.status.state).toBe('active');
    expect(find(all, ALERT.targetDown, 'video-inhibit-test')?.status.state).toBe('active');
  }, 60_000);
});
