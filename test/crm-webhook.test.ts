// POST /api/webhooks/crm on a real Fastify app with the service's HTTP instrumentation, a real
// PostgreSQL 15 and the CRM emulator: signature (401), malformed body (400), registration (200),
// CRM down (502), the trace it leaves, and no personal data in that trace or the logs.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registerCrmWebhook, signWebhook } from '../src/api/routes/webhooks.ts';
import type { CrmEmulator } from '../src/crm-emulator/server.ts';
import { migrate } from '../src/db/migrate.ts';
import { CrmClient, hashId } from '../src/lib/crm.ts';
import { createDb, type DbHandle } from '../src/lib/db.ts';
import { CRM_SIGNATURE_HEADER, CRM_WEBHOOKS, PRISMA_SPANS, ROUTES } from '../src/signals/index.ts';
import { createLogger, registry } from '../src/telemetry/index.ts';
import { instrumentFastify } from '../src/telemetry/http-server.ts';
import { startTestCrm, TEST_CRM_CREDENTIALS } from './harness/crm-emulator.ts';
import { startTestTelemetry, type TestTelemetry } from './harness/otel.ts';
import { startPostgres, type PostgresHandle } from './harness/postgres.ts';

const SECRET = 'webhook-test-secret';
const logLines: string[] = [];
const logger = createLogger('crm-webhook-test', { write: (s: string) => void logLines.push(s) });

let tel: TestTelemetry;
let pgh: PostgresHandle;
let dbh: DbHandle;
let emu: CrmEmulator;
let app: FastifyInstance;

beforeAll(async () => {
  tel = await startTestTelemetry('video-api');
  [pgh, emu] = await Promise.all([startPostgres(), startTestCrm()]);
  const url = await pgh.createDatabase('webhooks');
  await migrate(url);
  dbh = createDb(url, { logger });
  const crm = new CrmClient({ baseUrl: emu.url, ...TEST_CRM_CREDENTIALS, logger, retry: { baseDelayMs: 10, maxAttempts: 2 } });
  app = Fastify();
  instrumentFastify(app);
  registerCrmWebhook(app, { db: dbh.db, crm, webhookSecret: SECRET });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await dbh?.close();
  await emu?.stop();
  await pgh?.stop();
  await tel?.shutdown();
});
beforeEach(() => {
  tel.reset();
  emu.reset();
  logLines.length = 0;
});

const post = (body: string, signature?: string) =>
  app.inject({
    method: 'POST',
    url: ROUTES.crmWebhook,
    headers: { 'content-type': 'application/json', ...(signature !== undefined ? { [CRM_SIGNATURE_HEADER]: signature } : {}) },
    payload: body,
  });
const signed = (obj: unknown) => {
  const body = JSON.stringify(obj);
  return post(body, signWebhook(body, SECRET));
};
const webhookCount = async (type: string, result: string): Promise<number> => {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${CRM_WEBHOOKS}{`) && l.includes(`webhook_type="${type}"`) && l.includes(`result="${result}"`));
  return line ? Number(line.split(' ')[1]) : 0;
};

describe('POST /api/webhooks/crm', () => {
  it('answers 401 without a signature, with a wrong one, or with one over another body, and stores nothing', async () => {
    const body = JSON.stringify({ type: 'ContactCreate', email: 'mallory@example.test' });
    const before = await webhookCount('other', 'bad_signature');
    const responses = await Promise.all([
      post(body),
      post(body, signWebhook(body, 'not-the-secret')),
      post(body, signWebhook(body.replace('mallory', 'trudy'), SECRET)),
      post(body, 'zz-not-hex'),
    ]);
    expect(responses.map((r) => r.statusCode)).toEqual([401, 401, 401, 401]);
    expect(responses[0]!.json()).toMatchObject({ error: 'bad_signature' });
    expect(await dbh.db.user.count({ where: { email: 'mallory@example.test' } })).toBe(0);
    expect(emu.stats().calls.upsertContact).toBe(0);
    expect((await webhookCount('other', 'bad_signature')) - before).toBe(4);
  });

  it('accepts the signature with a sha256= prefix', async () => {
    const body = JSON.stringify({ type: 'ContactCreate', email: 'prefix@example.test' });
    expect((await post(body, `sha256=${signWebhook(body, SECRET)}`)).statusCode).toBe(200);
  });

  it('answers 400 with the reason for a signed body that is not JSON or lacks fields', async () => {
    const notJson = '{"type": "ContactCreate", ';
    const r1 = await post(notJson, signWebhook(notJson, SECRET));
    expect(r1.statusCode).toBe(400);
    expect(r1.json()).toEqual({ error: 'malformed', message: 'body is not valid JSON' });
    const r2 = await signed({ type: 'ContactCreate' });
    expect(r2.statusCode).toBe(400);
    expect(r2.json().message).toBe('email is required and must be an address');
    const r3 = await signed({ email: 'x@example.test' });
    expect(r3.json().message).toBe('type is required');
    const r4 = await signed([1, 2]);
    expect(r4.json().message).toBe('body must be a JSON object');
  });

  it('registers a contact: user upserted in the database, contact upserted in the CRM, one trace', async () => {
    const email = 'new.user@example.test';
    const res = await signed({ type: 'ContactCreate', email, firstName: 'New', lastName: 'User', contactId: 'ghl_abc123' });
    expect(res.statusCode).toBe(200);
    const { userId } = res.json() as { userId: string };
    const user = await dbh.db.user.findUniqueOrThrow({ where: { id: userId } });
    expect(user).toMatchObject({ email, name: 'New User' });
    expect(user.crmContactId).toMatch(/^ct_/);
    // (emu.reset() between tests revokes tokens, so the first call may see a 401 and refresh first.)
    expect(emu.stats().log.filter((r) => r.endpoint === 'upsertContact' && r.status < 300)).toHaveLength(1);

    const spans = tel.spans();
    const server = spans.find((s) => s.name === `POST ${ROUTES.crmWebhook}`)!;
    expect(server).toBeDefined();
    expect(server.attributes['crm.webhook.type']).toBe('ContactCreate');
    const traceId = server.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const byId = new Map(inTrace.map((s) => [s.spanContext().spanId, s]));
    const reachesServer = (s: ReadableSpan): boolean => {
      for (let cur: ReadableSpan | undefined = s, i = 0; cur && i < 12; i++) {
        if (cur === server) return true;
        cur = byId.get(cur.parentSpanContext?.spanId ?? '');
      }
      return false;
    };
    const webhook = inTrace.find((s) => s.name === 'crm.webhook')!;
    expect(webhook.attributes).toMatchObject({ 'crm.webhook.type': 'ContactCreate', 'crm.contact_id_hash': hashId(user.crmContactId!) });
    const names = inTrace.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['crm.upsert_contact', PRISMA_SPANS.operation, PRISMA_SPANS.dbQuery]));
    for (const s of inTrace) expect(reachesServer(s)).toBe(true);

    // No email and no raw contact id (ours or the CRM's) anywhere in the trace or the logs.
    const dump =
      JSON.stringify(inTrace.map((s) => ({ n: s.name, a: s.attributes, e: s.events, st: s.status }))) +
      JSON.stringify(tel.logs().map((l) => ({ body: l.body, a: l.attributes }))) +
      logLines.join('');
    expect(dump).not.toContain(email);
    expect(dump).not.toContain(user.crmContactId!);
    expect(dump).not.toContain('ghl_abc123');
  });

  it('is idempotent: the same registration twice keeps one user and one contact', async () => {
    const payload = { type: 'ContactUpdate', email: 'twice@example.test', name: 'Twice' };
    const [a, b] = [await signed(payload), await signed(payload)];
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    expect(a.json().userId).toBe(b.json().userId);
    expect(await dbh.db.user.count({ where: { email: 'twice@example.test' } })).toBe(1);
    expect(emu.stats().contacts).toBe(1);
  });

  it('answers 502 when the CRM stays unavailable (the sender retries), and 200 once it is back', async () => {
    emu.control({ mode: '503', count: 2 });
    const payload = { type: 'ContactCreate', email: 'outage@example.test' };
    const r1 = await signed(payload);
    expect(r1.statusCode).toBe(502);
    expect(r1.json()).toMatchObject({ error: 'crm_unavailable' });
    const server = tel.spansNamed(`POST ${ROUTES.crmWebhook}`)[0]!;
    expect(server.attributes['http.response.status_code']).toBe(502);
    const r2 = await signed(payload);
    expect(r2.statusCode).toBe(200);
    expect(await dbh.db.user.count({ where: { email: 'outage@example.test' } })).toBe(1);
  });

  it('acknowledges webhook types it does not handle without touching the database or the CRM', async () => {
    const r = await signed({ type: 'OpportunityCreate', email: 'deal@example.test' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ status: 'ignored', type: 'OpportunityCreate' });
    expect(await dbh.db.user.count({ where: { email: 'deal@example.test' } })).toBe(0);
    expect(emu.stats().calls.upsertContact).toBe(0);
  });
});
