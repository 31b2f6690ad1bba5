// A small GoHighLevel-style CRM for tests and compose: OAuth2 client-credentials tokens, contact
// upsert and notes, plus a control API that makes it misbehave for the next N calls.
//
//   POST /oauth/token                 grant_type=client_credentials (form or JSON) -> { access_token, expires_in }
//   POST /contacts/upsert             { email, name?, firstName?, lastName? } -> { contact: { id }, new }
//   POST /contacts/:contactId/notes   { body } -> { note: { id, contactId } }
//   POST /_control                    { mode: '429'|'503'|'slow'|'expired'|'ok', count?, retryAfterSeconds?, delayMs?, endpoint? }
//   GET  /_control/stats              { calls: { token, upsertContact, addNote }, log: [...], contacts, notes }
//   POST /_control/reset              forget faults, counters, tokens, contacts and notes
//
// POSTs honour an `Idempotency-Key` header: a repeated key returns the first response without
// applying the call again (so a client may retry a POST whose response it never saw).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type CrmEndpoint = 'token' | 'upsertContact' | 'addNote';
export type FaultMode = '429' | '503' | 'slow' | 'expired' | 'ok';

export interface Fault {
  mode: FaultMode;
  /** How many calls the fault applies to (default 1). Not used by `expired`. */
  count?: number;
  /** Retry-After sent with 429 (and 503 when set). */
  retryAfterSeconds?: number;
  /** Delay of `slow` responses (default 2000 ms). */
  delayMs?: number;
  /** Which endpoint the fault applies to: an API endpoint (default: any API endpoint) or the token endpoint. */
  endpoint?: CrmEndpoint | 'api';
}

export interface CallRecord {
  endpoint: CrmEndpoint;
  /** ms since the emulator started (monotonic). */
  at: number;
  status: number;
  replayed?: boolean;
}

export interface CrmEmulatorOptions {
  port?: number;
  host?: string;
  clientId?: string;
  clientSecret?: string;
  /** Lifetime of issued tokens (default 3600 s). */
  tokenTtlSeconds?: number;
}

export interface CrmStats {
  calls: Record<CrmEndpoint, number>;
  log: CallRecord[];
  contacts: number;
  notes: number;
}

export interface CrmEmulator {
  url: string;
  port: number;
  stats: () => CrmStats;
  control: (fault: Fault) => void;
  reset: () => void;
  stop: () => Promise<void>;
}

interface ActiveFault {
  mode: '429' | '503' | 'slow';
  left: number;
  delayMs: number;
  endpoint: CrmEndpoint | 'api';
  retryAfterSeconds?: number;
}

interface Stored {
  status: number;
  body: unknown;
}

export async function startCrmEmulator(opts: CrmEmulatorOptions = {}): Promise<CrmEmulator> {
  const clientId = opts.clientId ?? 'emulator-client';
  const clientSecret = opts.clientSecret ?? 'emulator-secret';
  const t0 = performance.now();
  let tokenTtl = opts.tokenTtlSeconds ?? 3600;
  const tokens = new Map<string, number>(); // token -> expiry (ms, performance clock)
  const contactsByEmail = new Map<string, string>();
  const notes = new Map<string, { contactId: string; body: string }>();
  const idempotent = new Map<string, Stored>();
  let faults: ActiveFault[] = [];
  const calls: Record<CrmEndpoint, number> = { token: 0, upsertContact: 0, addNote: 0 };
  const log: CallRecord[] = [];

  const reset = (): void => {
    tokens.clear();
    contactsByEmail.clear();
    notes.clear();
    idempotent.clear();
    faults = [];
    calls.token = calls.upsertContact = calls.addNote = 0;
    log.length = 0;
    tokenTtl = opts.tokenTtlSeconds ?? 3600;
  };

  const control = (f: Fault): void => {
    if (f.mode === 'ok') {
      faults = [];
      return;
    }
    if (f.mode === 'expired') {
      // Every token issued so far is now expired: the next call with one answers 401.
      tokens.clear();
      return;
    }
    faults.push({ mode: f.mode, left: f.count ?? 1, delayMs: f.delayMs ?? 2000, endpoint: f.endpoint ?? 'api', ...(f.retryAfterSeconds !== undefined ? { retryAfterSeconds: f.retryAfterSeconds } : {}) });
  };

  const takeFault = (endpoint: CrmEndpoint) => {
    const f = faults.find((x) => x.left > 0 && (x.endpoint === endpoint || (x.endpoint === 'api' && endpoint !== 'token')));
    if (!f) return undefined;
    f.left--;
    faults = faults.filter((x) => x.left > 0);
    return f;
  };

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const parse = (raw: string, contentType: string | undefined): Record<string, unknown> | null => {
    try {
      if (contentType?.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
      const v: unknown = raw ? JSON.parse(raw) : {};
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const raw = await readBody(req);
    const body = parse(raw, req.headers['content-type']);

    // Control API (not counted).
    if (url.pathname === '/_control' && req.method === 'POST') {
      if (!body || typeof body.mode !== 'string') return send(res, 400, { error: 'mode required' });
      control(body as unknown as Fault);
      if (typeof body.tokenTtlSeconds === 'number') tokenTtl = body.tokenTtlSeconds;
      return send(res, 200, { ok: true });
    }
    if (url.pathname === '/_control/stats' && req.method === 'GET') return send(res, 200, stats());
    if (url.pathname === '/_control/reset' && req.method === 'POST') {
      reset();
      return send(res, 200, { ok: true });
    }
    if (url.pathname === '/healthz') return send(res, 200, { ok: true });

    let endpoint: CrmEndpoint;
    let contactId: string | undefined;
    const noteMatch = /^\/contacts\/([^/]+)\/notes$/.exec(url.pathname);
    if (url.pathname === '/oauth/token' && req.method === 'POST') endpoint = 'token';
    else if (url.pathname === '/contacts/upsert' && req.method === 'POST') endpoint = 'upsertContact';
    else if (noteMatch && req.method === 'POST') {
      endpoint = 'addNote';
      contactId = decodeURIComponent(noteMatch[1]!);
    } else return send(res, 404, { error: 'not found' });

    calls[endpoint]++;
    const rec: CallRecord = { endpoint, at: performance.now() - t0, status: 0 };
    log.push(rec);
    const reply = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
      rec.status = status;
      send(res, status, payload, headers);
    };

    const fault = takeFault(endpoint);
    if (fault?.mode === '429') {
      return reply(429, { error: 'rate limited' }, fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {});
    }
    if (fault?.mode === '503') {
      return reply(503, { error: 'unavailable' }, fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {});
    }

    // Applies the call, then (for `slow`) waits before answering: a client that times out
    // has had its call applied, which is exactly why POST retries need an idempotency key.
    const respond = async (status: number, payload: unknown): Promise<void> => {
      if (fault?.mode === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs));
      reply(status, payload);
    };

    if (endpoint === 'token') {
      if (!body || body.grant_type !== 'client_credentials') return respond(400, { error: 'unsupported_grant_type' });
      if (body.client_id !== clientId || body.client_secret !== clientSecret) return respond(401, { error: 'invalid_client' });
      const token = randomBytes(18).toString('base64url');
      tokens.set(token, performance.now() + tokenTtl * 1000);
      return respond(200, { access_token: token, token_type: 'Bearer', expires_in: tokenTtl });
    }

    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const exp = tokens.get(token);
    if (exp === undefined || exp <= performance.now()) return reply(401, { error: 'invalid_token', message: 'token expired or unknown' });
    if (!body) return respond(400, { error: 'invalid JSON body' });

    const key = req.headers['idempotency-key'];
    const idemKey = typeof key === 'string' && key ? `${endpoint}:${key}` : undefined;
    if (idemKey) {
      const prior = idempotent.get(idemKey);
      if (prior) {
        rec.replayed = true;
        return respond(prior.status, prior.body);
      }
    }

    let result: Stored;
    if (endpoint === 'upsertContact') {
      const email = typeof body.email === 'string' ? body.email.trim().toLowerCase() : '';
      if (!email.includes('@')) return respond(422, { error: 'email required' });
      const existing = contactsByEmail.get(email);
      const id = existing ?? `ct_${randomBytes(9).toString('base64url')}`;
      contactsByEmail.set(email, id);
      result = { status: existing ? 200 : 201, body: { contact: { id }, new: !existing } };
    } else {
      const known = [...contactsByEmail.values()].includes(contactId!);
      if (!known) return respond(404, { error: 'contact not found' });
      if (typeof body.body !== 'string' || !body.body) return respond(422, { error: 'body required' });
      const id = `nt_${randomBytes(9).toString('base64url')}`;
      notes.set(id, { contactId: contactId!, body: body.body });
      result = { status: 201, body: { note: { id, contactId } } };
    }
    if (idemKey) idempotent.set(idemKey, result);
    return respond(result.status, result.body);
  };

  const stats = (): CrmStats => ({ calls: { ...calls }, log: log.map((r) => ({ ...r })), contacts: contactsByEmail.size, notes: notes.size });

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { error: String(err) }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1'}:${port}`,
    port,
    stats,
    control,
    reset,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
