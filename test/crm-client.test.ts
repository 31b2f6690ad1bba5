// The CRM client against the CRM emulator: single-flight token refresh, retries with backoff and
// Retry-After, idempotent POST retries, spans/events/metrics, and no personal data in telemetry.
import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CrmEmulator } from '../src/crm-emulator/server.ts';
import { CrmClient, CrmError, hashId, type CrmConfig } from '../src/lib/crm.ts';
import { CRM_EVENTS, CRM_RETRIES, CRM_TOKEN_REFRESH_SPAN, CRM_TOKEN_REFRESHES } from '../src/signals/index.ts';
import { createLogger, registry } from '../src/telemetry/index.ts';
import { startCrmEmulatorProcess, startTestCrm, TEST_CRM_CREDENTIALS } from './harness/crm-emulator.ts';

const exporter = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));

const logLines: string[] = [];
const logger = createLogger('crm', { write: (s: string) => void logLines.push(s) });

let emu: CrmEmulator;
beforeAll(async () => {
  emu = await startTestCrm();
});
afterAll(async () => {
  await emu?.stop();
  trace.disable();
  context.disable();
});
beforeEach(() => {
  emu.reset();
  exporter.reset();
  logLines.length = 0;
});

const client = (over: Partial<CrmConfig> = {}): CrmClient =>
  new CrmClient({ baseUrl: emu.url, ...TEST_CRM_CREDENTIALS, logger, retry: { baseDelayMs: 50, maxDelayMs: 3000, attemptTimeoutMs: 20_000 }, ...over });
// (A long attempt timeout: on a loaded 2-core machine a 50-call burst must not time out where a
// test counts calls; the timeout path has its own test with a short one.)
const spans = (name?: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => !name || s.name === name);
const apiLog = () => emu.stats().log.filter((r) => r.endpoint !== 'token');
const emails = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}@example.test`);

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe('CRM client', () => {
  it('fetches the OAuth2 token once for 50 concurrent first calls (single flight)', async () => {
    const c = client();
    const results = await Promise.all(emails(50, 'flight').map((email) => c.upsertContact({ email })));
    expect(new Set(results.map((r) => r.contactId)).size).toBe(50);
    expect(emu.stats().calls).toEqual({ token: 1, upsertContact: 50, addNote: 0 });
    expect(spans(CRM_TOKEN_REFRESH_SPAN)).toHaveLength(1);
    expect(spans('crm.upsert_contact')).toHaveLength(50);
  });

  it('after every token expires (401), 50 concurrent calls refresh once and all succeed', async () => {
    const c = client();
    const { contactId } = await c.upsertContact({ email: 'expiry@example.test' });
    const refreshesBefore = await metricValue(CRM_TOKEN_REFRESHES, { outcome: 'success' });
    emu.control({ mode: 'expired' });
    const notes = await Promise.all(Array.from({ length: 50 }, (_, i) => c.addNote(contactId, `video ${i} published`)));
    expect(new Set(notes.map((n) => n.noteId)).size).toBe(50);
    const s = emu.stats();
    // 1 token at the start + exactly 1 refresh; each note: one 401, one success.
    expect(s.calls).toEqual({ token: 2, upsertContact: 1, addNote: 100 });
    expect(s.log.filter((r) => r.endpoint === 'addNote' && r.status === 401)).toHaveLength(50);
    expect(s.notes).toBe(50);
    expect(spans(CRM_TOKEN_REFRESH_SPAN)).toHaveLength(2);
    expect((await metricValue(CRM_TOKEN_REFRESHES, { outcome: 'success' })) - refreshesBefore).toBe(1);
  });

  it('retries a failed token request once for all 50 waiting calls', async () => {
    const c = client();
    emu.control({ mode: '503', count: 1, endpoint: 'token' });
    await Promise.all(emails(50, 'tokenretry').map((email) => c.upsertContact({ email })));
    expect(emu.stats().log.filter((r) => r.endpoint === 'token').map((r) => r.status)).toEqual([503, 200]);
    expect(emu.stats().calls.upsertContact).toBe(50);
  });

  it('refreshes a token before it expires, without a 401', async () => {
    const short = await startTestCrm(31); // 31 s lifetime - 30 s safety margin: stale after 1 s
    try {
      const c = new CrmClient({ baseUrl: short.url, ...TEST_CRM_CREDENTIALS, logger });
      await c.upsertContact({ email: 'early@example.test' });
      await new Promise((r) => setTimeout(r, 1100));
      await c.upsertContact({ email: 'early@example.test' });
      expect(short.stats().log.map((r) => [r.endpoint, r.status])).toEqual([
        ['token', 200],
        ['upsertContact', 201],
        ['token', 200],
        ['upsertContact', 200],
      ]);
    } finally {
      await short.stop();
    }
  });

  it('honours Retry-After on 429: 50 concurrent calls retry no earlier than asked, with one token', async () => {
    const c = client();
    emu.control({ mode: '429', count: 50, retryAfterSeconds: 1 });
    const t0 = performance.now();
    await Promise.all(emails(50, 'limited').map((email) => c.upsertContact({ email })));
    const elapsed = performance.now() - t0;
    const log = apiLog();
    expect(emu.stats().calls).toEqual({ token: 1, upsertContact: 100, addNote: 0 });
    const limited = log.filter((r) => r.status === 429);
    const ok = log.filter((r) => r.status === 200 || r.status === 201);
    expect(limited).toHaveLength(50);
    expect(ok).toHaveLength(50);
    const lastLimited = Math.max(...limited.map((r) => r.at));
    const firstLimited = Math.min(...limited.map((r) => r.at));
    const firstRetry = Math.min(...ok.map((r) => r.at));
    console.log(`429 burst: first 429 at ${firstLimited.toFixed(0)} ms, last at ${lastLimited.toFixed(0)} ms, first retry at ${firstRetry.toFixed(0)} ms, all done in ${elapsed.toFixed(0)} ms`);
    // Each retry waits >= Retry-After (1 s) after its own 429; the earliest retry follows the earliest 429.
    expect(firstRetry - firstLimited).toBeGreaterThanOrEqual(990);
    // Not the 5 s cap or several rounds: one Retry-After wait plus the machine's own slowness.
    expect(elapsed).toBeLessThan(1000 + 8000);
    const retries = spans('crm.upsert_contact').flatMap((s) => s.events.filter((e) => e.name === CRM_EVENTS.retry));
    expect(retries).toHaveLength(50);
    for (const e of retries) expect(e.attributes).toMatchObject({ attempt: 1, status: 429 });
    for (const e of retries) expect(Number(e.attributes?.delayMs)).toBeGreaterThanOrEqual(1000);
  });

  it('retries 503 with exponential backoff (full jitter, here at its ceiling) under 50 concurrent calls', async () => {
    const retriedBefore = await metricValue(CRM_RETRIES, { crm_operation: 'upsert_contact', reason: '503' });
    const c = client({ random: () => 0.999 });
    emu.control({ mode: '503', count: 50 });
    await Promise.all(emails(50, 'busy').map((email) => c.upsertContact({ email })));
    expect(emu.stats().calls).toEqual({ token: 1, upsertContact: 100, addNote: 0 });
    expect((await metricValue(CRM_RETRIES, { crm_operation: 'upsert_contact', reason: '503' })) - retriedBefore).toBe(50);

    // One call through three 503s: the waits grow 50, 100, 200 ms (base 50 ms, doubling).
    emu.reset(); // (also forgets issued tokens: a new client fetches one)
    exporter.reset();
    emu.control({ mode: '503', count: 3 });
    await client({ random: () => 0.999 }).upsertContact({ email: 'backoff@example.test' });
    const at = apiLog().map((r) => r.at);
    expect(apiLog().map((r) => r.status)).toEqual([503, 503, 503, 201]);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    console.log(`503 backoff gaps (ms): ${gaps.map((g) => g.toFixed(0)).join(', ')}`);
    [50, 100, 200].forEach((expected, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(expected * 0.999 - 2);
      expect(gaps[i]).toBeLessThan(expected + 250);
    });
    const events = spans('crm.upsert_contact')[0]!.events.filter((e) => e.name === CRM_EVENTS.retry);
    expect(events.map((e) => [e.attributes?.attempt, e.attributes?.status, e.attributes?.delayMs])).toEqual([
      [1, 503, 50],
      [2, 503, 100],
      [3, 503, 200],
    ]);
  });

  it('gives up after maxAttempts with an ERROR span and a crm.failure event', async () => {
    const c = client({ retry: { baseDelayMs: 10, maxAttempts: 3 } });
    emu.control({ mode: '503', count: 10 });
    const err = await c.upsertContact({ email: 'down@example.test' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmError);
    expect((err as CrmError).reason).toBe('exhausted_503');
    expect(emu.stats().calls.upsertContact).toBe(3);
    const span = spans('crm.upsert_contact')[0]!;
    expect(span.status.code).toBe(2);
    expect(span.events.map((e) => e.name)).toEqual([CRM_EVENTS.retry, CRM_EVENTS.retry, CRM_EVENTS.failure, 'exception']);
  });

  it('retries a timed-out POST with the same idempotency key, so the note is created once', async () => {
    const c = client({ retry: { baseDelayMs: 10, attemptTimeoutMs: 300 } });
    const { contactId } = await c.upsertContact({ email: 'slow@example.test' });
    emu.control({ mode: 'slow', count: 1, delayMs: 800 });
    const { noteId } = await c.addNote(contactId, 'published');
    const notes = emu.stats().log.filter((r) => r.endpoint === 'addNote');
    expect(notes).toHaveLength(2);
    expect(notes[1]!.replayed).toBe(true);
    expect(emu.stats().notes).toBe(1);
    expect(noteId).toMatch(/^nt_/);
    const retry = spans('crm.add_note')[0]!.events.find((e) => e.name === CRM_EVENTS.retry);
    expect(retry?.attributes).toMatchObject({ attempt: 1, status: 0, reason: 'timeout' });
  });

  it('adds one "video published" note per video, however often it is published', async () => {
    const c = client();
    const { contactId } = await c.upsertContact({ email: 'publisher@example.test' });
    const a = await c.addVideoPublishedNote(contactId, { id: 'vid123', title: 'Holiday' });
    const b = await c.addVideoPublishedNote(contactId, { id: 'vid123', title: 'Holiday' });
    await c.addVideoPublishedNote(contactId, { id: 'vid456' });
    expect(b.noteId).toBe(a.noteId);
    expect(emu.stats().notes).toBe(2);
  });

  it('fails at once when Retry-After asks for more than the retry cap', async () => {
    const c = client();
    emu.control({ mode: '429', count: 1, retryAfterSeconds: 10 });
    await expect(c.upsertContact({ email: 'patience@example.test' })).rejects.toMatchObject({ reason: 'retry_after_too_long', status: 429 });
    expect(emu.stats().calls.upsertContact).toBe(1);
  });

  it('does not retry a 4xx other than 401', async () => {
    const c = client();
    await expect(c.addNote('ct_missing', 'x')).rejects.toMatchObject({ reason: 'status_404', status: 404 });
    expect(emu.stats().calls.addNote).toBe(1);
  });

  it('puts no email and no raw contact id in any span, event or log line; the contact id appears hashed', async () => {
    const c = client({ retry: { baseDelayMs: 10, maxAttempts: 2 } });
    const email = 'private.person@example.test';
    const { contactId } = await c.upsertContact({ email, name: 'Private Person' });
    emu.control({ mode: '429', count: 1, retryAfterSeconds: 0 });
    await c.addNote(contactId, 'published');
    emu.control({ mode: '503', count: 5 });
    await expect(c.addNote(contactId, 'again')).rejects.toBeInstanceOf(CrmError);
    const dump = JSON.stringify(
      exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, links: s.links, resource: s.resource.attributes })),
    ) + logLines.join('\n');
    expect(logLines.length).toBeGreaterThan(0);
    expect(dump).not.toContain(email);
    expect(dump).not.toContain('private.person');
    expect(dump).not.toContain(contactId);
    expect(dump).toContain(hashId(contactId));
    expect(spans('crm.add_note').every((s) => s.attributes['crm.contact_id_hash'] === hashId(contactId))).toBe(true);
  });

  it('counts a call in crm_request_duration_seconds also when its trace is not sampled', async () => {
    const count = async (): Promise<number> => {
      const line = (await registry.metrics()).split('\n').find((l) => l.startsWith('crm_request_duration_seconds_count{') && l.includes('crm_operation="upsert_contact"') && l.includes('outcome="success"'));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const before = await count();
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE, isRemote: true });
    await context.with(unsampled, () => client().upsertContact({ email: 'unsampled@example.test' }));
    expect(spans('crm.upsert_contact')).toHaveLength(0);
    expect((await count()) - before).toBe(1);
  });

  it('talks to the emulator run as its own process (npm run start:crm-emulator) and its control API', async () => {
    const proc = await startCrmEmulatorProcess();
    try {
      const c = new CrmClient({ baseUrl: proc.url, ...TEST_CRM_CREDENTIALS, logger, retry: { baseDelayMs: 10 } });
      await proc.control({ mode: '503', count: 1 });
      const { contactId } = await c.upsertContact({ email: 'process@example.test' });
      await c.addNote(contactId, 'hello');
      const s = await proc.stats();
      expect(s.calls).toEqual({ token: 1, upsertContact: 2, addNote: 1 });
      expect(s.log.map((r) => r.status)).toEqual([200, 503, 201, 201]);
    } finally {
      await proc.stop();
    }
  });
});
