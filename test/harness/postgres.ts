// Starts a real PostgreSQL 15 on 127.0.0.1 on a free port: initdb into a fresh temp dir, then
// `postgres -k <tmpdir> -p <port> -c listen_addresses=127.0.0.1`; stops it by PID.
//
// PostgreSQL refuses to run as root. CI runs as root, so when we are root the data dir is
// chowned to the `postgres` system user (created by the Debian package) and the binaries are
// started through `setpriv --reuid --regid`, which execs in place: the PID we hold is the
// postmaster's own, so SIGTERM stops it (smart shutdown) without a wrapper in between.
import { spawnSync } from 'node:child_process';
import { chownSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { exitStatus, freePort, giveUpIfExited, requireBinary, startProcess, tempDir, waitFor } from './process.ts';

const PG_BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'];
const INSTALL_HINT = 'apt-get install -y postgresql (Debian: binaries in /usr/lib/postgresql/15/bin)';

export interface PostgresHandle {
  /** postgresql://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** Creates an empty database and returns its URL (one per test file or scenario). */
  createDatabase: (name: string) => Promise<string>;
  output: () => string;
  stop: () => Promise<void>;
}

interface RunAs {
  prefix: string[];
  uid?: number;
  gid?: number;
}

function runAs(): RunAs {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { prefix: [] };
  const id = (flag: string): number => {
    const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`running as root and there is no "postgres" user to run PostgreSQL as; ${INSTALL_HINT}`);
    return Number(r.stdout.trim());
  };
  const uid = id('-u');
  const gid = id('-g');
  const setpriv = requireBinary('setpriv', 'apt-get install -y util-linux');
  return { prefix: [setpriv, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'], uid, gid };
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const entry of readdirSync(path)) {
    const p = join(path, entry);
    if (statSync(p).isDirectory()) chownTree(p, uid, gid);
    else chownSync(p, uid, gid);
  }
}

export async function startPostgres(): Promise<PostgresHandle> {
  const initdb = requireBinary('initdb', INSTALL_HINT, PG_BIN_DIRS);
  const postgres = requireBinary('postgres', INSTALL_HINT, PG_BIN_DIRS);
  const as = runAs();
  const dir = tempDir('postgres');
  const dataDir = join(dir.path, 'data');
  if (as.uid !== undefined && as.gid !== undefined) chownTree(dir.path, as.uid, as.gid);

  const [cmd0, ...pre] = as.prefix.length ? as.prefix : [initdb];
  const initArgs = ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync', '--no-instructions'];
  const init = spawnSync(cmd0 as string, as.prefix.length ? [...pre, initdb, ...initArgs] : initArgs, { encoding: 'utf8', cwd: dir.path });
  if (init.status !== 0) {
    dir.cleanup();
    throw new Error(`initdb failed (${init.status}): ${init.stderr}${init.stdout}`);
  }

  const port = await freePort();
  // Durability off: a test database is thrown away, and fsync on 2 shared cores is slow.
  const pgArgs = [
    '-D', dataDir, '-k', dir.path, '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
    '-c', 'max_connections=40', '-c', 'shared_buffers=32MB',
  ];
  const started = as.prefix.length ? startProcess(cmd0 as string, [...pre, postgres, ...pgArgs], { cwd: dir.path }) : startProcess(postgres, pgArgs, { cwd: dir.path });
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const stop = async (): Promise<void> => {
    await started.stop();
    dir.cleanup();
  };
  try {
    await waitFor(
      async () => {
        giveUpIfExited(started.proc);
        const c = new pg.Client({ connectionString: url });
        try {
          await c.connect();
          await c.query('SELECT 1');
          return true;
        } finally {
          await c.end().catch(() => undefined);
        }
      },
      30_000,
      `PostgreSQL on 127.0.0.1:${port}`,
    );
    const gone = exitStatus(started.proc);
    if (gone) throw new Error(`postgres exited (${gone})`);
  } catch (err) {
    await stop();
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${started.output()}`, { cause: err });
  }
  return {
    url,
    port,
    output: started.output,
    stop,
    createDatabase: async (name: string) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return `postgresql://postgres@127.0.0.1:${port}/${name}`;
    },
  };
}
