// Executes the request plans of load-tests/scenarios.ts with Node's fetch, the way the k6 scripts
// execute them with k6/http (load-tests/lib/k6-exec.ts): same requests, same expected statuses.
// Used by the tests (each plan once against the live service) and by the benchmark's setup.
import { makeBody, type FollowPlan, type RequestPlan } from '../load-tests/scenarios.ts';

export interface StepResult {
  step: string;
  status: number;
  /** Body bytes received (up to the abort point for aborted reads). */
  bytes: number;
  headers: Headers;
  /** Body text when it is small JSON (upload answers), for the caller to parse. */
  text?: string;
  aborted: boolean;
  /** Why this step does not match its plan; empty when it does. */
  problems: string[];
}

const bodies = new Map<string, Uint8Array>();
function bodyOf(plan: RequestPlan): Uint8Array | undefined {
  if (!plan.body) return undefined;
  const key = `${plan.body.bytes}:${plan.body.seed}`;
  let b = bodies.get(key);
  if (!b) {
    b = makeBody(plan.body);
    if (bodies.size > 16) bodies.clear();
    bodies.set(key, b);
  }
  return b;
}

async function readBody(res: Response, abortAfter: number | undefined, ac: AbortController): Promise<{ bytes: number; text?: string; aborted: boolean }> {
  if (!res.body) return { bytes: 0, aborted: false };
  const reader = res.body.getReader();
  let bytes = 0;
  const chunks: Uint8Array[] = [];
  const json = (res.headers.get('content-type') ?? '').includes('json');
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (json && bytes < 65_536) chunks.push(value);
    if (abortAfter !== undefined && bytes >= abortAfter) {
      ac.abort();
      await reader.cancel().catch(() => undefined);
      return { bytes, aborted: true };
    }
  }
  return { bytes, aborted: false, ...(json ? { text: Buffer.concat(chunks).toString('utf8') } : {}) };
}

function check(step: string, status: number, bytes: number, expectStatus: readonly number[], expectBodyBytes: number | undefined, aborted: boolean): string[] {
  const problems: string[] = [];
  if (!expectStatus.includes(status)) problems.push(`${step}: status ${status}, expected ${expectStatus.join('|')}`);
  if (!aborted && expectBodyBytes !== undefined && bytes !== expectBodyBytes) problems.push(`${step}: ${bytes} body bytes, expected ${expectBodyBytes}`);
  return problems;
}

async function follow(location: string, baseUrl: string, plan: FollowPlan, timeoutMs: number): Promise<StepResult> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const res = await fetch(new URL(location, baseUrl), { headers: plan.headers, signal: ac.signal, redirect: 'manual' });
    const body = await readBody(res, undefined, ac);
    return {
      step: plan.step,
      status: res.status,
      bytes: body.bytes,
      headers: res.headers,
      aborted: false,
      problems: check(plan.step, res.status, body.bytes, plan.expectStatus, plan.expectBodyBytes, false),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one plan (and its follow-up) against `baseUrl`; returns one result per HTTP request. */
export async function executePlan(baseUrl: string, plan: RequestPlan, timeoutMs = 30_000): Promise<StepResult[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  let first: StepResult;
  try {
    const body = bodyOf(plan);
    const res = await fetch(new URL(plan.path, baseUrl), {
      method: plan.method,
      headers: plan.headers,
      ...(body ? { body } : {}),
      redirect: 'manual',
      signal: ac.signal,
    });
    const read = await readBody(res, plan.abortAfterBytes, ac);
    first = {
      step: plan.step,
      status: res.status,
      bytes: read.bytes,
      headers: res.headers,
      ...(read.text !== undefined ? { text: read.text } : {}),
      aborted: read.aborted,
      problems: check(plan.step, res.status, read.bytes, plan.expectStatus, plan.expectBodyBytes, read.aborted),
    };
    if (plan.abortAfterBytes !== undefined && !read.aborted) {
      first.problems.push(`${plan.step}: the body ended after ${read.bytes} bytes, before the client could abort at ${plan.abortAfterBytes}`);
    }
  } finally {
    clearTimeout(timer);
  }
  if (!plan.follow) return [first];
  const location = first.headers.get('location');
  if (!location) {
    first.problems.push(`${plan.step}: no Location header to follow`);
    return [first];
  }
  return [first, await follow(location, baseUrl, plan.follow, timeoutMs)];
}

/** Runs plans one after the other (one virtual user's iteration). */
export async function executeSession(baseUrl: string, plans: RequestPlan[], timeoutMs?: number): Promise<StepResult[]> {
  const out: StepResult[] = [];
  for (const p of plans) out.push(...(await executePlan(baseUrl, p, timeoutMs)));
  return out;
}
