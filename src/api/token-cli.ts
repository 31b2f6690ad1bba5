// `npm run token -- <user> [ttlSeconds]`: prints a session token signed with SESSION_SECRET.
import { signToken } from './auth.ts';

const [user, ttl] = process.argv.slice(2);
const secret = process.env.SESSION_SECRET;
if (!user || !secret) {
  console.error('usage: SESSION_SECRET=... npm run token -- <user> [ttlSeconds]');
  process.exit(2);
}
try {
  console.log(ttl ? signToken(user, secret, Number(ttl)) : signToken(user, secret));
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
