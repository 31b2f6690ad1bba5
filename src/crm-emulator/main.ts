// `npm run start:crm-emulator`: the CRM emulator as its own process (compose service crm-emulator).
// PORT (default 8090), HOST (default 127.0.0.1; compose sets 0.0.0.0), CRM_CLIENT_ID,
// CRM_CLIENT_SECRET (the credentials it accepts), CRM_TOKEN_TTL_SECONDS.
import { DEFAULT_PORTS } from '../signals/index.ts';
import { startCrmEmulator } from './server.ts';

const emulator = await startCrmEmulator({
  port: Number(process.env.PORT ?? DEFAULT_PORTS.crmEmulator),
  host: process.env.HOST ?? '127.0.0.1',
  clientId: process.env.CRM_CLIENT_ID ?? 'emulator-client',
  clientSecret: process.env.CRM_CLIENT_SECRET ?? 'emulator-secret',
  tokenTtlSeconds: Number(process.env.CRM_TOKEN_TTL_SECONDS ?? 3600),
});
process.stdout.write(`${JSON.stringify({ msg: 'crm emulator listening', port: emulator.port })}\n`);
const stop = (): void => {
  void emulator.stop().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
