// Grafana provisioning as code (written to grafana/provisioning/ by `npm run generate`).
// Datasource UIDs are fixed so dashboards and cross-links never depend on generated ids:
// Prometheus exemplars -> Tempo, Loki trace_id -> Tempo, Tempo -> Loki logs, Tempo -> Prometheus
// metrics and service map.
import { DATASOURCE_UIDS } from '../dashboards/uids.ts';
import { HTTP_SERVER_DURATION, LABEL_SERVICE, LOKI_LABELS } from '../src/signals/index.ts';

/** Where compose mounts dashboards/generated inside the Grafana container. */
export const GRAFANA_DASHBOARDS_DIR = '/var/lib/grafana/dashboards';

export const DATASOURCE_URLS = {
  prometheus: 'http://prometheus:9090',
  tempo: 'http://tempo:3200',
  loki: 'http://loki:3100',
  alertmanager: 'http://alertmanager:9093',
} as const;

export function datasourcesProvisioning(): Record<string, unknown> {
  return {
    apiVersion: 1,
    // Datasources not listed here are removed, so a renamed one does not linger.
    prune: true,
    datasources: [
      {
        name: 'Prometheus',
        type: 'prometheus',
        uid: DATASOURCE_UIDS.prometheus,
        access: 'proxy',
        url: DATASOURCE_URLS.prometheus,
        isDefault: true,
        editable: false,
        jsonData: {
          httpMethod: 'POST',
          // Scrape interval of our jobs: $__rate_interval becomes at least 4x this.
          timeInterval: '15s',
          // Exemplar trace_id (set by the service on latency histograms) opens the trace in Tempo.
          exemplarTraceIdDestinations: [{ name: 'trace_id', datasourceUid: DATASOURCE_UIDS.tempo }],
        },
      },
      {
        name: 'Tempo',
        type: 'tempo',
        uid: DATASOURCE_UIDS.tempo,
        access: 'proxy',
        url: DATASOURCE_URLS.tempo,
        editable: false,
        jsonData: {
          // Trace -> its logs in Loki: same service, same trace id, a minute around the span.
          tracesToLogsV2: {
            datasourceUid: DATASOURCE_UIDS.loki,
            spanStartTimeShift: '-1m',
            spanEndTimeShift: '1m',
            filterByTraceID: true,
            filterBySpanID: false,
            tags: [
              { key: 'service.name', value: LOKI_LABELS.service },
            ],
          },
          // Span -> the service's RED metrics in Prometheus.
          tracesToMetrics: {
            datasourceUid: DATASOURCE_UIDS.prometheus,
            spanStartTimeShift: '-5m',
            spanEndTimeShift: '5m',
            tags: [{ key: 'service.name', value: LABEL_SERVICE }],
            queries: [
              { name: 'Request rate', query: `sum(rate(${HTTP_SERVER_DURATION}_count{$$__tags}[5m]))` },
              { name: 'P95 latency', query: `histogram_quantile(0.95, sum by (le) (rate(${HTTP_SERVER_DURATION}_bucket{$$__tags}[5m])))` },
            ],
          },
          // Service graph from Tempo's metrics-generator series in Prometheus.
          serviceMap: { datasourceUid: DATASOURCE_UIDS.prometheus },
          nodeGraph: { enabled: true },
          search: { hide: false },
          traceQuery: { timeShiftEnabled: true, spanStartTimeShift: '-1h', spanEndTimeShift: '1h' },
          lokiSearch: { datasourceUid: DATASOURCE_UIDS.loki },
        },
      },
      {
        name: 'Loki',
        type: 'loki',
        uid: DATASOURCE_UIDS.loki,
        access: 'proxy',
        url: DATASOURCE_URLS.loki,
        editable: false,
        jsonData: {
          maxLines: 1000,
          // trace_id arrives as OTLP structured metadata; the link opens the trace in Tempo.
          derivedFields: [
            {
              name: 'trace_id',
              matcherType: 'label',
              matcherRegex: LOKI_LABELS.traceId,
              url: '$${__value.raw}',
              urlDisplayLabel: 'View trace',
              datasourceUid: DATASOURCE_UIDS.tempo,
            },
          ],
        },
      },
      {
        name: 'Alertmanager',
        type: 'alertmanager',
        uid: DATASOURCE_UIDS.alertmanager,
        access: 'proxy',
        url: DATASOURCE_URLS.alertmanager,
        editable: false,
        jsonData: { implementation: 'prometheus', handleGrafanaManagedAlerts: false },
      },
    ],
  };
}

export function dashboardsProvisioning(): Record<string, unknown> {
  return {
    apiVersion: 1,
    providers: [
      {
        name: 'video-platform',
        orgId: 1,
        folder: 'Video platform',
        folderUid: 'video-platform',
        type: 'file',
        // Generated from TypeScript: edits in the UI would be lost on the next generate.
        allowUiUpdates: false,
        disableDeletion: true,
        updateIntervalSeconds: 30,
        options: { path: GRAFANA_DASHBOARDS_DIR, foldersFromFilesStructure: false },
      },
    ],
  };
}
