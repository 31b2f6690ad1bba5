// Client-facing errors: every 4xx/5xx the API answers is JSON `{ error, message }`.
import type { FastifyReply } from 'fastify';

export interface ErrorBody {
  error: string;
  message: string;
}

/** Sends a JSON error without throwing (4xx are answers, not failures of the handler span). */
export function sendError(reply: FastifyReply, status: number, error: string, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error, message } satisfies ErrorBody);
}
