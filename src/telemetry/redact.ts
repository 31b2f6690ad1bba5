// Secret redaction for everything that leaves the process as telemetry (span attributes,
// events, log lines): presigned-URL signatures and credentials, auth and cookie headers.
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import { REDACTED_HEADERS, REDACTED_QUERY_PARAMS, REDACTED_VALUE } from '../signals/index.ts';

const paramPattern = new RegExp(
  // A credential parameter anywhere: after ?, &, ; (URLs), at the start (a bare query string) or
  // after any non-name character (a URL embedded in a message).
  `((?:^|[^A-Za-z0-9_-])(?:${REDACTED_QUERY_PARAMS.map((p) => p.replace(/[-]/g, '\\-')).join('|')})=)[^&#\\s"']*`,
  'gi',
);
const headerNames = new Set<string>(REDACTED_HEADERS);
// Cheap pre-check so the common case (no secret) costs one indexOf per string.
const needles = ['X-Amz-', 'x-amz-', 'Signature', 'token', 'Token', 'AWSAccessKeyId', 'Bearer '];

/** Redacts credential query parameters in a URL or any string that embeds one. */
export function redactString(value: string): string {
  let hit = false;
  for (const n of needles) {
    if (value.includes(n)) {
      hit = true;
      break;
    }
  }
  if (!hit) return value;
  return value
    .replace(paramPattern, `$1${REDACTED_VALUE}`)
    .replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, `Bearer ${REDACTED_VALUE}`);
}

function redactValue(key: string, value: AttributeValue): AttributeValue {
  if (isSecretKey(key)) return REDACTED_VALUE;
  if (typeof value === 'string') return redactString(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? redactString(v) : v)) as AttributeValue;
  return value;
}

// Attribute keys repeat (a few dozen in this service): each key's answer is kept, so a span's
// attributes cost one Map lookup per key instead of a lowercase copy, a slice and two Set lookups.
const SECRET_KEY_CACHE_MAX = 1024;
const secretKeys = new Map<string, boolean>();

/** True for attribute keys that name a secret-bearing header (http.request.header.authorization, ...). */
export function isSecretKey(key: string): boolean {
  const known = secretKeys.get(key);
  if (known !== undefined) return known;
  const lower = key.toLowerCase();
  const dot = lower.lastIndexOf('.');
  const last = dot >= 0 ? lower.slice(dot + 1) : lower;
  const secret = headerNames.has(last) || headerNames.has(lower);
  if (secretKeys.size < SECRET_KEY_CACHE_MAX) secretKeys.set(key, secret);
  return secret;
}

/** Returns attributes with every secret redacted; the same object when nothing changed. */
export function redactAttributes<T extends Attributes | undefined>(attributes: T): T {
  if (!attributes) return attributes;
  let out: Attributes | undefined;
  for (const key in attributes) {
    const v = attributes[key];
    if (v === undefined) continue;
    const r = redactValue(key, v);
    if (r !== v) {
      out ??= { ...attributes };
      out[key] = r;
    }
  }
  return (out ?? attributes) as T;
}
