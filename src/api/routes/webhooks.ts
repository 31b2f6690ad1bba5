// POST /api/webhooks/crm: registration webhooks from the CRM (GoHighLevel-style).
//   - `x-crm-signature`: hex HMAC-SHA256 of the raw body with CRM_WEBHOOK_SECRET (an optional
//     `sha256=` prefix is accepted), compared in constant time; missing or wrong -> 401.
//   - body `{ type, email, contactId?, name?, firstName?, lastName? }`; not JSON or missing
//     fields -> 400 with the reason.
//   - ContactCreate / ContactUpdate: upserts the user in the database and the contact in the CRM
//     (the CRM's answer gives the contact id stored on the user); CRM unreachable -> 502, so the
//     sender retries (both upserts are idempotent). Other types -> 200 `ignored`.
// Traced as span `crm.webhook` with the webhook type and the contact id hashed; the email never
// reaches telemetry.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import {
  CRM_ATTR,
  CRM_LABELS,
  CRM_SIGNATURE_HEADER,
  CRM_WEBHOOK_TYPE_OTHER,
  CRM_WEBHOOK_TYPES,
  CRM_WEBHOOKS,
  ROUTES,
  type CrmWebhookResult,
} from '../../signals/index.ts';
import { counter, traceAsync } from '../../telemetry/index.ts';
import { CrmError, hashId, type CrmClient } from '../../lib/crm.ts';
import { setUserCrmContact, upsertUser, type Db } from '../../lib/db.ts';
import { sendError } from '../errors.ts';

export interface CrmWebhookDeps {
  db: Db;
  /** null: no CRM configured (the user is still stored). */
  crm: CrmClient | null;
  /** CRM_WEBHOOK_SECRET. */
  webhookSecret: string;
}

export interface RegistrationWebhook {
  type: string;
  email: string;
  contactId?: string;
  name?: string;
}

const webhooks = counter(CRM_WEBHOOKS, 'CRM webhooks received, by type and result.', [CRM_LABELS.webhookType, CRM_LABELS.result]);
const MAX_BODY_BYTES = 64 * 1024;

/** Constant-time check of the hex HMAC-SHA256 signature of `raw`. */
export function verifySignature(raw: Buffer, header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string' || !secret) return false;
  const hex = header.trim().replace(/^sha256=/i, '');
  if (!/^[0-9a-f]{64}$/i.test(hex)) return false;
  const given = Buffer.from(hex, 'hex');
  const expected = createHmac('sha256', secret).update(raw).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Signature header value for a body (the CRM side; used by tests and the synthetic load). */
export function signWebhook(raw: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(raw).digest('hex');
}

/** Validates a parsed body; returns the webhook or the reason it is malformed. */
export function parseWebhook(body: unknown): RegistrationWebhook | string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'body must be a JSON object';
  const b = body as Record<string, unknown>;
  if (typeof b.type !== 'string' || !b.type) return 'type is required';
  if (typeof b.email !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(b.email.trim()) || b.email.length > 320) return 'email is required and must be an address';
  if (b.contactId !== undefined && (typeof b.contactId !== 'string' || !b.contactId)) return 'contactId must be a non-empty string';
  const name = typeof b.name === 'string' ? b.name : [b.firstName, b.lastName].filter((x) => typeof x === 'string' && x).join(' ') || undefined;
  return {
    type: b.type,
    email: b.email.trim().toLowerCase(),
    ...(typeof b.contactId === 'string' ? { contactId: b.contactId } : {}),
    ...(name ? { name } : {}),
  };
}

const typeLabel = (t: string): string => ((CRM_WEBHOOK_TYPES as readonly string[]).includes(t) ? t : CRM_WEBHOOK_TYPE_OTHER);

export function registerCrmWebhook(app: FastifyInstance, deps: CrmWebhookDeps): void {
  // Encapsulated: the raw-body JSON parser applies to this route only.
  void app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_req, body, done) => done(null, body));

    scope.post(ROUTES.crmWebhook, { config: { routeClass: 'webhook' } }, async (request, reply) => {
      const count = (type: string, result: CrmWebhookResult): void => webhooks.inc({ [CRM_LABELS.webhookType]: typeLabel(type), [CRM_LABELS.result]: result });
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (!verifySignature(raw, request.headers[CRM_SIGNATURE_HEADER], deps.webhookSecret)) {
        count(CRM_WEBHOOK_TYPE_OTHER, 'bad_signature');
        return sendError(reply, 401, 'bad_signature', `missing or invalid ${CRM_SIGNATURE_HEADER}`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch {
        count(CRM_WEBHOOK_TYPE_OTHER, 'malformed');
        return sendError(reply, 400, 'malformed', 'body is not valid JSON');
      }
      const hook = parseWebhook(parsed);
      if (typeof hook === 'string') {
        const t = parsed && typeof parsed === 'object' && typeof (parsed as { type?: unknown }).type === 'string' ? (parsed as { type: string }).type : CRM_WEBHOOK_TYPE_OTHER;
        count(t, 'malformed');
        return sendError(reply, 400, 'malformed', hook);
      }
      const type = typeLabel(hook.type);
      // On the request span too, so a trace search by webhook type finds the SERVER span.
      trace.getActiveSpan()?.setAttribute(CRM_ATTR.webhookType, type);
      return traceAsync(
        'crm.webhook',
        async (span) => {
          if (type === CRM_WEBHOOK_TYPE_OTHER) {
            count(type, 'accepted');
            return reply.code(200).send({ status: 'ignored', type: hook.type });
          }
          const user = await upsertUser(deps.db, { email: hook.email, ...(hook.name ? { name: hook.name } : {}) });
          let contactId = hook.contactId;
          if (deps.crm) {
            try {
              const r = await deps.crm.upsertContact({ email: hook.email, ...(hook.name ? { name: hook.name } : {}), source: 'video-platform' });
              contactId = r.contactId;
            } catch (err) {
              count(type, 'error');
              const reason = err instanceof CrmError ? err.reason : 'error';
              return sendError(reply, 502, 'crm_unavailable', `the CRM did not accept the contact (${reason})`);
            }
          }
          if (contactId) {
            span.setAttribute(CRM_ATTR.contactIdHash, hashId(contactId));
            if (user.crmContactId !== contactId) await setUserCrmContact(deps.db, user.id, contactId);
          }
          count(type, 'accepted');
          return reply.code(200).send({ status: 'accepted', userId: user.id });
        },
        { [CRM_ATTR.webhookType]: type, ...(hook.contactId ? { [CRM_ATTR.contactIdHash]: hashId(hook.contactId) } : {}) },
      );
    });
  });
}

