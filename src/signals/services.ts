// Service identity: the two names used everywhere (OTel service.name, Prometheus job and
// service_name label, dashboards, alerts, compose service names).
export const SERVICE_API = 'video-api';
export const SERVICE_WORKER = 'video-worker';
export const SERVICES = [SERVICE_API, SERVICE_WORKER] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Deployment environments; each has its own trace sampling ratio (see telemetry.ts). */
export const ENVIRONMENTS = ['development', 'staging', 'production'] as const;
export type DeploymentEnvironment = (typeof ENVIRONMENTS)[number];
export const DEFAULT_ENVIRONMENT: DeploymentEnvironment = 'development';

/** Prometheus labels every metric of ours carries (set as registry default labels). */
export const LABEL_SERVICE = 'service_name';
export const LABEL_ENVIRONMENT = 'deployment_environment';
/** Prometheus scrape job label: equal to the service name. */
export const LABEL_JOB = 'job';

/**
 * Default ports. The API serves HTTP and websockets on API_PORT; each process serves its
 * Prometheus scrape endpoint (`/metrics`, OpenMetrics) on its own metrics port, outside the
 * traced request path.
 */
export const DEFAULT_PORTS = {
  api: 8080,
  apiMetrics: 9464,
  workerMetrics: 9465,
  crmEmulator: 8090,
} as const;
export const METRICS_PATH = '/metrics';
