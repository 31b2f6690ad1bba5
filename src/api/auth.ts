// Session tokens: `<payload>.<signature>`, payload = base64url(JSON {u: userId, exp: unix s}),
// signature = base64url(HMAC-SHA256(SESSION_SECRET, payload)). Sent as `Authorization: Bearer`
// or as the `session` cookie. Verification is constant-time and rejects expired tokens.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SESSION_COOKIE, SESSION_TTL_SECONDS_DEFAULT } from '../signals/index.ts';

/** User ids: bounded and header/metadata safe (they go into S3 object metadata). */
const USER_ID = /^[A-Za-z0-9_.@-]{1,128}$/;

export function isValidUserId(userId: string): boolean {
  return USER_ID.test(userId);
}

/** The signature's one canonical text: base64url of the HMAC. */
const sign = (payload: string, secret: string): string => createHmac('sha256', secret).update(payload).digest('base64url');

export function signToken(userId: string, secret: string, ttlSeconds = SESSION_TTL_SECONDS_DEFAULT, now = Date.now()): string {
  if (!isValidUserId(userId)) throw new Error('user id must match [A-Za-z0-9_.@-]{1,128}');
  const payload = Buffer.from(JSON.stringify({ u: userId, exp: Math.floor(now / 1000) + ttlSeconds })).toString('base64url');
  return `${payload}.${sign(payload, secret)}`;
}

export function verifyToken(token: string, secret: string, now = Date.now()): { userId: string } | null {
  if (token.length > 1024) return null;
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
  const payload = token.slice(0, dot);
  // Compare the signature as text with its one canonical encoding: decoding first would accept
  // other spellings of the same bytes (base64url's last character carries 2 unused bits).
  const given = Buffer.from(token.slice(dot + 1));
  const expected = Buffer.from(sign(payload, secret));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { u?: unknown; exp?: unknown };
    if (typeof body.u !== 'string' || !isValidUserId(body.u) || typeof body.exp !== 'number') return null;
    if (body.exp * 1000 <= now) return null;
    return { userId: body.u };
  } catch {
    return null;
  }
}

/** The token from `Authorization: Bearer <t>` or the `session` cookie, if any. */
export function tokenFromRequest(req: { headers: Record<string, string | string[] | undefined> }): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const cookie = req.headers.cookie;
  if (typeof cookie === 'string') {
    for (const part of cookie.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) {
        const v = part.slice(eq + 1).trim();
        if (v) return v;
      }
    }
  }
  return undefined;
}

/** A stable, non-reversible id for telemetry (DESIGN: personal data hashed or left out). */
export function userHash(userId: string): string {
  return createHash('sha256').update(userId).digest('hex').slice(0, 16);
}
