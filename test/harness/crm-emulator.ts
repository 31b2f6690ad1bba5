// The CRM emulator for tests: in-process (fast, direct access to its counters) or as its own
// process through `npm run start:crm-emulator` (as compose runs it), driven over its control API.
import { startCrmEmulator, type CrmEmulator, type CrmStats, type Fault } from '../../src/crm-emulator/server.ts';
import { freePort, startProcess, waitForPort } from './process.ts';

export const TEST_CRM_CREDENTIALS = { clientId: 'test-client', clientSecret: 'test-secret' } as const;

/** In-process emulator on 127.0.0.1, a free port, accepting TEST_CRM_CREDENTIALS. */
export function startTestCrm(tokenTtlSeconds = 3600): Promise<CrmEmulator> {
  return startCrmEmulator({ ...TEST_CRM_CREDENTIALS, tokenTtlSeconds });
}

export interface CrmEmulatorProcess {
  url: string;
  pid: number;
  stats: () => Promise<CrmStats>;
  control: (fault: Fault) => Promise<void>;
  stop: () => Promise<void>;
}

/** Spawns `npm run start:crm-emulator`'s command (node src/crm-emulator/main.ts) on a free port; stops it by PID. */
export async function startCrmEmulatorProcess(): Promise<CrmEmulatorProcess> {
  const port = await freePort();
  const started = startProcess(process.execPath, ['src/crm-emulator/main.ts'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', CRM_CLIENT_ID: TEST_CRM_CREDENTIALS.clientId, CRM_CLIENT_SECRET: TEST_CRM_CREDENTIALS.clientSecret },
  });
  try {
    await waitForPort(port, 20_000, started.proc);
  } catch (err) {
    await started.stop();
    throw new Error(`crm emulator did not start: ${(err as Error).message}\n${started.output()}`, { cause: err });
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    pid: started.proc.pid!,
    stats: async () => (await (await fetch(`${url}/_control/stats`)).json()) as CrmStats,
    control: async (fault) => {
      const r = await fetch(`${url}/_control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault) });
      if (!r.ok) throw new Error(`control answered ${r.status}`);
    },
    stop: started.stop,
  };
}
