// Stable dashboard UIDs (links, runbooks and bookmarks use them; never change one).
export const DASHBOARD_UIDS = {
  overview: 'video-service-overview',
  streaming: 'video-streaming',
  uploads: 'video-uploads-jobs',
  dependencies: 'video-dependencies',
  traces: 'video-traces-logs',
  telemetry: 'video-telemetry-health',
  load: 'video-load-test',
} as const;
export type DashboardUid = (typeof DASHBOARD_UIDS)[keyof typeof DASHBOARD_UIDS];

/** Grafana datasource UIDs, fixed by grafana/provisioning/datasources (never the generated default). */
export const DATASOURCE_UIDS = {
  prometheus: 'prometheus',
  tempo: 'tempo',
  loki: 'loki',
  alertmanager: 'alertmanager',
} as const;
