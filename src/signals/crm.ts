// CRM boundary signals (src/lib/crm.ts owns every call to the GoHighLevel-style CRM API).

/** Operations of the CRM client; each is a span `crm.<operation>` and a metric label value. */
export const CRM_OPERATIONS = ['upsert_contact', 'add_note'] as const;
export type CrmOperation = (typeof CRM_OPERATIONS)[number];
export const crmSpanName = (op: CrmOperation): `crm.${CrmOperation}` => `crm.${op}`;
/** Span of the OAuth2 client-credentials token request (single flight: one per expiry). */
export const CRM_TOKEN_REFRESH_SPAN = 'crm.token_refresh';
/** Span events. */
/** `crm.response` marks the successful answer with the number of attempts it took. */
export const CRM_EVENTS = { retry: 'crm.retry', failure: 'crm.failure', response: 'crm.response' } as const;

/** Span attribute keys. Contact ids and webhook payload identities are hashed (crmHash*). */
export const CRM_ATTR = {
  operation: 'crm.operation',
  contactIdHash: 'crm.contact_id_hash',
  webhookType: 'crm.webhook.type',
  attempt: 'crm.attempt',
  attempts: 'crm.attempts',
  statusCode: 'http.response.status_code',
  idempotencyKey: 'crm.idempotency_key',
} as const;
/** Hex characters kept of the sha256 of a contact id: enough to correlate, too few to reverse a small id space cheaply. */
export const CRM_HASH_HEX_CHARS = 16;

/** CRM request latency by operation and outcome (one observation per logical call, retries included). */
export const CRM_DURATION = 'crm_request_duration_seconds';
/** Retries by operation and the reason that caused them (status code or `timeout` / `network`). */
export const CRM_RETRIES = 'crm_retries_total';
/** Token refreshes by outcome; a healthy client refreshes once per token lifetime. */
export const CRM_TOKEN_REFRESHES = 'crm_token_refreshes_total';
/** Webhooks received by type and result (accepted, bad_signature, malformed, error). */
export const CRM_WEBHOOKS = 'crm_webhooks_received_total';
export const CRM_LABELS = { operation: 'crm_operation', outcome: 'outcome', reason: 'reason', webhookType: 'webhook_type', result: 'result' } as const;
export const CRM_WEBHOOK_RESULTS = ['accepted', 'bad_signature', 'malformed', 'error'] as const;
export type CrmWebhookResult = (typeof CRM_WEBHOOK_RESULTS)[number];
/** Webhook types this service handles; any other value is labelled `other` (bounded label). */
export const CRM_WEBHOOK_TYPES = ['ContactCreate', 'ContactUpdate'] as const;
export const CRM_WEBHOOK_TYPE_OTHER = 'other';
/** Buckets include the webhook objective (0.5 s) and the retry horizon (several seconds). */
export const CRM_DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/** Retry policy: exponential backoff with full jitter, capped, honouring Retry-After. */
export const CRM_RETRY = {
  /** Total attempts including the first. */
  maxAttempts: 4,
  /** First backoff ceiling; attempt n waits random(0, min(maxDelayMs, baseDelayMs * 2^(n-1))). */
  baseDelayMs: 200,
  /** Cap of one backoff, and of a Retry-After we are willing to wait inline. */
  maxDelayMs: 5000,
  /** Per-attempt timeout: a CRM call slower than this is aborted and counts as retryable. */
  attemptTimeoutMs: 5000,
} as const;
/** A token is refreshed this long before its announced expiry (clock skew, request time). */
export const CRM_TOKEN_EXPIRY_SKEW_MS = 30_000;

/** Webhook signature header (hex HMAC-SHA256 of the raw body with CRM_WEBHOOK_SECRET). */
export const CRM_SIGNATURE_HEADER = 'x-crm-signature';
/** Idempotency key header sent on POSTs, so a retried POST is applied once by the CRM. */
export const CRM_IDEMPOTENCY_HEADER = 'idempotency-key';

/** CRM error ratio above which the dependency alert fires. */
export const CRM_ERROR_RATIO_THRESHOLD = 0.05;
