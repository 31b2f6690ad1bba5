// The request's session, verified once per request (the sampler's `critical` predicate and the
// handler both ask for it).
import type { FastifyRequest } from 'fastify';
import { tokenFromRequest, verifyToken } from './auth.ts';

export interface Session {
  /** A token was presented (valid or not). */
  hasSession: boolean;
  /** The verified user, when the token is valid and not expired. */
  user: { userId: string } | null;
}

const kSession = Symbol('video-api.session');
type WithSession = { [kSession]?: Session };

export function sessionOf(request: FastifyRequest, secret: string): Session {
  const r = request as unknown as WithSession;
  let s = r[kSession];
  if (!s) {
    const token = tokenFromRequest(request);
    s = { hasSession: token !== undefined, user: token !== undefined ? verifyToken(token, secret) : null };
    r[kSession] = s;
  }
  return s;
}
