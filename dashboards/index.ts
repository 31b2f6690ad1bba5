// Every dashboard the generator writes to dashboards/generated/<uid>.json.
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { dependenciesDashboard } from './dependencies.ts';
import { loadTestDashboard } from './load-test.ts';
import { serviceOverviewDashboard } from './service-overview.ts';
import { telemetryHealthDashboard } from './telemetry-health.ts';
import { tracesLogsDashboard } from './traces-logs.ts';
import { uploadsJobsDashboard } from './uploads-jobs.ts';
import { videoStreamingDashboard } from './video-streaming.ts';

export { DASHBOARD_UIDS, DATASOURCE_UIDS } from './uids.ts';

export function defaultDashboards(): dashboard.DashboardBuilder[] {
  return [
    serviceOverviewDashboard(),
    videoStreamingDashboard(),
    uploadsJobsDashboard(),
    dependenciesDashboard(),
    tracesLogsDashboard(),
    telemetryHealthDashboard(),
    loadTestDashboard(),
  ];
}
