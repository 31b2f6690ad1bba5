// video-api configuration from the environment. Every variable is validated here, once, with an
// error that names it; the rest of the service receives a typed ApiConfig.
import {
  DEFAULT_ENVIRONMENT,
  DEFAULT_PORTS,
  DELIVERY_MODES,
  ENVIRONMENTS,
  FAULT_ERROR_RATIO_ENV,
  FAULT_LATENCY_MS_ENV,
  UPLOAD_MAX_BYTES_DEFAULT,
  UPLOAD_PART_SIZE_BYTES,
  type DeliveryMode,
  type DeploymentEnvironment,
} from '../signals/index.ts';
import type { S3Config } from '../lib/s3.ts';

export interface ApiConfig {
  host: string;
  port: number;
  metricsPort: number;
  /** Host the metrics endpoint binds to (defaults to HOST). */
  metricsHost: string;
  s3: S3Config;
  redisUrl: string;
  sessionSecret: string;
  environment: DeploymentEnvironment;
  uploadMaxBytes: number;
  /** Multipart part size: the one buffer an upload holds in memory. */
  uploadPartSizeBytes: number;
  deliveryDefault: DeliveryMode;
  /** Share of /api/* requests answered 500 on purpose (alert end-to-end tests). */
  faultErrorRatio: number;
  /** Delay added to every /api/* request, in ms (latency alert tests). */
  faultLatencyMs: number;
  /** Allowed CORS origins (`*` or a comma-separated list). */
  corsOrigin: string;
  /** PostgreSQL URL (DATABASE_URL); without it the database routes answer 503. */
  databaseUrl: string | undefined;
  /** CRM_WEBHOOK_SECRET: HMAC key of POST /api/webhooks/crm signatures. */
  crmWebhookSecret: string | undefined;
}

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback?: string): string {
  const v = env[name]?.trim();
  if (v) return v;
  if (fallback !== undefined) return fallback;
  throw new ConfigError(name, 'is required');
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function ratio(env: Env, name: string): number {
  const raw = env[name]?.trim();
  if (!raw) return 0;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new ConfigError(name, `must be a number between 0 and 1, got ${JSON.stringify(raw)}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

function url(env: Env, name: string, fallback: string | undefined, protocols: string[]): string | undefined {
  const raw = env[name]?.trim() || fallback;
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be a URL, got ${JSON.stringify(raw)}`);
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
  return raw;
}

/** Minimum SESSION_SECRET length: an HMAC key shorter than this is guessable. */
const MIN_SECRET_LENGTH = 16;

export function loadApiConfig(env: Env = process.env): ApiConfig {
  const host = str(env, 'HOST', '127.0.0.1');
  const sessionSecret = str(env, 'SESSION_SECRET');
  if (sessionSecret.length < MIN_SECRET_LENGTH) throw new ConfigError('SESSION_SECRET', `must be at least ${MIN_SECRET_LENGTH} characters`);
  const endpoint = url(env, 'S3_ENDPOINT', undefined, ['http:', 'https:']);
  const uploadMaxBytes = int(env, 'UPLOAD_MAX_BYTES', UPLOAD_MAX_BYTES_DEFAULT, 1, Number.MAX_SAFE_INTEGER);
  return {
    host,
    port: int(env, 'PORT', DEFAULT_PORTS.api, 0, 65535),
    metricsPort: int(env, 'METRICS_PORT', DEFAULT_PORTS.apiMetrics, 0, 65535),
    metricsHost: str(env, 'METRICS_HOST', host),
    s3: {
      ...(endpoint ? { endpoint } : {}),
      region: str(env, 'S3_REGION', 'us-east-1'),
      bucket: str(env, 'S3_BUCKET', 'videos'),
      accessKeyId: str(env, 'AWS_ACCESS_KEY_ID'),
      secretAccessKey: str(env, 'AWS_SECRET_ACCESS_KEY'),
    },
    redisUrl: url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']) as string,
    sessionSecret,
    environment: oneOf(env, 'DEPLOYMENT_ENVIRONMENT', ENVIRONMENTS, DEFAULT_ENVIRONMENT),
    uploadMaxBytes,
    uploadPartSizeBytes: UPLOAD_PART_SIZE_BYTES,
    deliveryDefault: oneOf(env, 'VIDEO_DELIVERY_DEFAULT', DELIVERY_MODES, 'redirect'),
    faultErrorRatio: ratio(env, FAULT_ERROR_RATIO_ENV),
    faultLatencyMs: int(env, FAULT_LATENCY_MS_ENV, 0, 0, 600_000),
    corsOrigin: str(env, 'CORS_ORIGIN', '*'),
    databaseUrl: url(env, 'DATABASE_URL', undefined, ['postgres:', 'postgresql:']),
    crmWebhookSecret: env.CRM_WEBHOOK_SECRET?.trim() || undefined,
  };
}
