// The CRM boundary (GoHighLevel-style REST API): every CRM call goes through here, with its span,
// its metrics and its retry policy.
//
// - Auth: OAuth2 client credentials. The token is fetched once for all concurrent callers
//   (single flight), refreshed before expiry, and again after a 401 — still once, however many
//   calls saw the 401 at the same time.
// - Retries: exponential backoff with full jitter on 429, 5xx, timeouts and network errors,
//   honouring Retry-After (never earlier than asked; a wait longer than the cap fails the call).
//   Non-idempotent calls are never retried blindly: every POST carries an `Idempotency-Key`
//   (one per logical call, the same on every attempt), so the CRM applies a retried POST once.
//   Contact upsert is idempotent by its nature (keyed by email) and carries a key too.
// - Telemetry: span `crm.<operation>` (kind CLIENT) and `crm.token_refresh`; events `crm.retry`
//   {attempt, status, delayMs} and `crm.failure`; the contact id only as a truncated sha256; the
//   email never. The HTTP spans instrumentation-undici would add are suppressed for these calls,
//   because their url.full would carry the raw contact id (/contacts/<id>/notes); our span is
//   the client span and the W3C trace context is injected by hand.
import { createHash, randomUUID } from 'node:crypto';
// Imported: the global `performance` is an accessor Node calls on every use.
import { performance } from 'node:perf_hooks';
import { context, propagation, SpanKind, type Span } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import {
  CRM_ATTR,
  CRM_DURATION,
  CRM_DURATION_BUCKETS,
  CRM_EVENTS,
  CRM_HASH_HEX_CHARS,
  CRM_IDEMPOTENCY_HEADER,
  CRM_LABELS,
  CRM_RETRIES,
  CRM_RETRY,
  CRM_TOKEN_EXPIRY_SKEW_MS,
  CRM_TOKEN_REFRESHES,
  CRM_TOKEN_REFRESH_SPAN,
  crmSpanName,
  type CrmOperation,
} from '../signals/index.ts';
import { addSpanEvent, counter, createLogger, histogram, observe, traceAsync } from '../telemetry/index.ts';

const crmDuration = histogram(
  CRM_DURATION,
  'Duration of CRM API calls (all attempts of one logical call), by operation and outcome.',
  [CRM_LABELS.operation, CRM_LABELS.outcome],
  CRM_DURATION_BUCKETS,
);
const crmRetries = counter(CRM_RETRIES, 'CRM API call retries, by operation and the reason of the retry.', [CRM_LABELS.operation, CRM_LABELS.reason]);
const crmRefreshes = counter(CRM_TOKEN_REFRESHES, 'OAuth2 token requests to the CRM, by outcome.', [CRM_LABELS.outcome]);

/** sha256 of a personal identifier, truncated: correlates spans without exposing the value. */
export function hashId(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, CRM_HASH_HEX_CHARS);
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  attemptTimeoutMs: number;
}

export interface CrmConfig {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Overrides of CRM_RETRY (tests shorten the delays). */
  retry?: Partial<RetryPolicy>;
  /** Source of jitter in [0, 1); injectable for deterministic tests. */
  random?: () => number;
  logger?: ReturnType<typeof createLogger>;
}

export function loadCrmConfig(env: NodeJS.ProcessEnv = process.env): CrmConfig | null {
  if (!env.CRM_BASE_URL) return null;
  return { baseUrl: env.CRM_BASE_URL, clientId: env.CRM_CLIENT_ID ?? '', clientSecret: env.CRM_CLIENT_SECRET ?? '' };
}

export class CrmError extends Error {
  readonly status: number | undefined;
  readonly reason: string;
  constructor(message: string, reason: string, status?: number) {
    super(message);
    this.name = 'CrmError';
    this.reason = reason;
    this.status = status;
  }
}

export interface ContactInput {
  email: string;
  name?: string;
  firstName?: string;
  lastName?: string;
  source?: string;
}

interface Token {
  accessToken: string;
  expiresAt: number;
}

interface Attempt {
  status: number;
  headers: Headers;
  body: unknown;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Retry-After in ms (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const isRetryableStatus = (s: number): boolean => s === 429 || s === 408 || s >= 500;

export class CrmClient {
  readonly #cfg: CrmConfig;
  readonly #retry: RetryPolicy;
  readonly #random: () => number;
  readonly #log: ReturnType<typeof createLogger>;
  #token: Token | undefined;
  #refreshing: Promise<Token> | undefined;

  constructor(cfg: CrmConfig) {
    this.#cfg = { ...cfg, baseUrl: cfg.baseUrl.replace(/\/+$/, '') };
    this.#retry = { ...CRM_RETRY, ...cfg.retry };
    this.#random = cfg.random ?? Math.random;
    this.#log = cfg.logger ?? createLogger('crm');
  }

  /** Creates or updates the contact with this email; returns the CRM's contact id. */
  async upsertContact(input: ContactInput): Promise<{ contactId: string; created: boolean }> {
    return this.#call('upsert_contact', undefined, async (span) => {
      const res = await this.#request('upsert_contact', '/contacts/upsert', { ...input, email: input.email.trim().toLowerCase() });
      const body = res.body as { contact?: { id?: unknown }; new?: unknown };
      const id = body.contact?.id;
      if (typeof id !== 'string') throw new CrmError('CRM answered without a contact id', 'bad_response', res.status);
      span.setAttribute(CRM_ATTR.contactIdHash, hashId(id));
      return { contactId: id, created: body.new === true };
    });
  }

  /** Adds a note to a contact (e.g. "video published"). Sent once even if retried (idempotency key). */
  async addNote(contactId: string, note: string, idempotencyKey: string = randomUUID()): Promise<{ noteId: string }> {
    return this.#call('add_note', contactId, async () => {
      const res = await this.#request('add_note', `/contacts/${encodeURIComponent(contactId)}/notes`, { body: note }, idempotencyKey);
      const id = (res.body as { note?: { id?: unknown } }).note?.id;
      if (typeof id !== 'string') throw new CrmError('CRM answered without a note id', 'bad_response', res.status);
      return { noteId: id };
    });
  }

  /**
   * The "video published" note. Its idempotency key is derived from the video id, so publishing
   * (or a retried job publishing) the same video twice adds one note.
   */
  addVideoPublishedNote(contactId: string, video: { id: string; title?: string | null }): Promise<{ noteId: string }> {
    const title = video.title ? `"${video.title}" ` : '';
    return this.addNote(contactId, `Published video ${title}(${video.id})`, `video-published:${video.id}`);
  }

  /** Span, duration metric and failure event around one logical call. */
  #call<T>(op: CrmOperation, contactId: string | undefined, fn: (span: Span) => Promise<T>): Promise<T> {
    const attrs = { [CRM_ATTR.operation]: op, ...(contactId ? { [CRM_ATTR.contactIdHash]: hashId(contactId) } : {}) };
    return traceAsync(
      crmSpanName(op),
      async (span) => {
        const start = performance.now();
        try {
          const r = await fn(span);
          observe(crmDuration, { [CRM_LABELS.operation]: op, [CRM_LABELS.outcome]: 'success' }, (performance.now() - start) / 1000);
          return r;
        } catch (err) {
          observe(crmDuration, { [CRM_LABELS.operation]: op, [CRM_LABELS.outcome]: 'error' }, (performance.now() - start) / 1000);
          const e = err instanceof CrmError ? err : new CrmError(String((err as Error)?.message ?? err), 'error');
          addSpanEvent(CRM_EVENTS.failure, { [CRM_ATTR.operation]: op, reason: e.reason, ...(e.status !== undefined ? { [CRM_ATTR.statusCode]: e.status } : {}) });
          this.#log.warn({ crm_operation: op, reason: e.reason, status: e.status, ...(contactId ? { contact_id_hash: hashId(contactId) } : {}) }, 'crm call failed');
          throw e;
        }
      },
      attrs,
      { kind: SpanKind.CLIENT },
    );
  }

  /** One logical POST with auth, retries and the 401 -> refresh -> retry-once rule. */
  async #request(op: CrmOperation, path: string, payload: unknown, idempotencyKey: string = randomUUID()): Promise<Attempt> {
    const max = this.#retry.maxAttempts;
    let refreshedAfter401 = false;
    for (let attempt = 1; ; attempt++) {
      let token: Token | undefined;
      let res: Attempt | undefined;
      let reason: string;
      try {
        token = await this.#getToken();
        res = await this.#fetch(path, payload, { authorization: `Bearer ${token.accessToken}`, [CRM_IDEMPOTENCY_HEADER]: idempotencyKey });
        if (res.status >= 200 && res.status < 300) {
          addSpanEvent(CRM_EVENTS.response, { [CRM_ATTR.statusCode]: res.status, [CRM_ATTR.attempts]: attempt });
          return res;
        }
        if (res.status === 401 && !refreshedAfter401) {
          // Expired or revoked token: refresh (once for everyone holding this token) and retry
          // once; a second 401 with a fresh token is a real auth failure.
          refreshedAfter401 = true;
          this.#invalidate(token);
          attempt--;
          continue;
        }
        reason = String(res.status);
        if (!isRetryableStatus(res.status)) throw new CrmError(`CRM answered ${res.status}`, `status_${res.status}`, res.status);
      } catch (err) {
        // A token request that failed with 429/5xx or on the network is retried like the call.
        const tokenRetryable = err instanceof CrmError && err.reason.startsWith('token_') && (err.status === undefined || isRetryableStatus(err.status));
        if (err instanceof CrmError && !tokenRetryable) throw err;
        if (tokenRetryable) reason = err.reason;
        else reason = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError' ? 'timeout' : 'network';
      }
      if (attempt >= max) throw new CrmError(`CRM call failed after ${attempt} attempts (${reason})`, `exhausted_${reason}`, res?.status);
      const backoff = this.#random() * Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** (attempt - 1));
      const retryAfter = res ? parseRetryAfter(res.headers.get('retry-after')) : undefined;
      if (retryAfter !== undefined && retryAfter > this.#retry.maxDelayMs) {
        throw new CrmError(`CRM asked to retry after ${retryAfter} ms, more than the ${this.#retry.maxDelayMs} ms cap`, 'retry_after_too_long', res?.status);
      }
      const delayMs = Math.round(retryAfter !== undefined ? Math.max(retryAfter, backoff) : backoff);
      crmRetries.inc({ [CRM_LABELS.operation]: op, [CRM_LABELS.reason]: reason });
      addSpanEvent(CRM_EVENTS.retry, { attempt, status: res?.status ?? 0, delayMs, reason });
      await sleep(delayMs);
    }
  }

  async #fetch(path: string, payload: unknown, headers: Record<string, string>, form = false): Promise<Attempt> {
    const h: Record<string, string> = { accept: 'application/json', version: '2021-07-28', ...headers };
    propagation.inject(context.active(), h);
    h['content-type'] = form ? 'application/x-www-form-urlencoded' : 'application/json';
    const body = form ? new URLSearchParams(payload as Record<string, string>).toString() : JSON.stringify(payload);
    return context.with(suppressTracing(context.active()), async () => {
      const res = await fetch(`${this.#cfg.baseUrl}${path}`, { method: 'POST', headers: h, body, signal: AbortSignal.timeout(this.#retry.attemptTimeoutMs) });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null; // not JSON (a proxy's error page): the status decides
      }
      return { status: res.status, headers: res.headers, body: parsed };
    });
  }

  #invalidate(used: Token): void {
    if (this.#token === used) this.#token = undefined;
  }

  /** The current token, or the single in-flight refresh every concurrent caller awaits. */
  #getToken(): Promise<Token> {
    if (this.#token && this.#token.expiresAt - CRM_TOKEN_EXPIRY_SKEW_MS > Date.now()) return Promise.resolve(this.#token);
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  #refresh(): Promise<Token> {
    // A root-level refresh would be an orphan trace; it is a child of the call that needed it.
    return traceAsync(CRM_TOKEN_REFRESH_SPAN, async () => {
      try {
        const res = await this.#fetch(
          '/oauth/token',
          { grant_type: 'client_credentials', client_id: this.#cfg.clientId, client_secret: this.#cfg.clientSecret },
          {},
          true,
        );
        const body = res.body as { access_token?: unknown; expires_in?: unknown } | null;
        if (res.status !== 200 || typeof body?.access_token !== 'string') {
          throw new CrmError(`CRM token endpoint answered ${res.status}`, `token_${res.status}`, res.status);
        }
        const ttl = typeof body.expires_in === 'number' ? body.expires_in : 3600;
        this.#token = { accessToken: body.access_token, expiresAt: Date.now() + ttl * 1000 };
        crmRefreshes.inc({ [CRM_LABELS.outcome]: 'success' });
        return this.#token;
      } catch (err) {
        crmRefreshes.inc({ [CRM_LABELS.outcome]: 'error' });
        throw err instanceof CrmError ? err : new CrmError(`CRM token request failed: ${(err as Error).message}`, 'token_network');
      }
    });
  }
}

export function createCrmClient(cfg: CrmConfig): CrmClient {
  return new CrmClient(cfg);
}
