// Migrations apply on a fresh PostgreSQL 15 without Prisma's schema engine (src/db/migrate.ts).
import { spawnSync } from 'node:child_process';
import { cpSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MIGRATIONS_DIR, migrate, readMigrations } from '../src/db/migrate.ts';
import { MIGRATIONS_TABLE } from '../src/signals/index.ts';
import { startPostgres, type PostgresHandle } from './harness/postgres.ts';
import { tempDir } from './harness/process.ts';

let pgh: PostgresHandle;

beforeAll(async () => {
  pgh = await startPostgres();
});
afterAll(async () => {
  await pgh?.stop();
});

async function tables(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`);
    return r.rows.map((x) => x.tablename);
  } finally {
    await c.end();
  }
}

describe('db:migrate', () => {
  it('applies every migration to a fresh database and records it in _prisma_migrations with its sha256', async () => {
    const url = await pgh.createDatabase('fresh');
    expect(await tables(url)).toEqual([]);
    const result = await migrate(url);
    const names = readMigrations().map((m) => m.name);
    expect(names.length).toBeGreaterThan(0);
    expect(result).toEqual({ applied: names, alreadyApplied: [] });
    expect(await tables(url)).toEqual([MIGRATIONS_TABLE, 'thumbnails', 'users', 'videos']);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const rows = (await c.query(`SELECT migration_name, checksum, finished_at, applied_steps_count FROM "${MIGRATIONS_TABLE}"`)).rows;
    await c.end();
    expect(rows).toHaveLength(names.length);
    expect(rows[0].checksum).toBe(readMigrations()[0]?.checksum);
    expect(rows[0].finished_at).toBeInstanceOf(Date);
  });

  it('is a no-op the second time, also when two migrators race', async () => {
    const url = await pgh.createDatabase('twice');
    const [a, b] = await Promise.all([migrate(url), migrate(url)]);
    const names = readMigrations().map((m) => m.name);
    // The advisory lock serialises them: exactly one applied, the other found everything done.
    expect([a.applied.length, b.applied.length].sort()).toEqual([0, names.length]);
    expect(await migrate(url)).toEqual({ applied: [], alreadyApplied: names });
  });

  it('refuses to run when an applied migration file was edited afterwards', async () => {
    const url = await pgh.createDatabase('edited');
    const dir = tempDir('migrations');
    try {
      cpSync(DEFAULT_MIGRATIONS_DIR, dir.path, { recursive: true });
      await migrate(url, dir.path);
      const first = readMigrations(dir.path)[0]!;
      appendFileSync(join(dir.path, first.name, 'migration.sql'), '\n-- edited\n');
      await expect(migrate(url, dir.path)).rejects.toThrow(/was modified after it was applied/);
    } finally {
      dir.cleanup();
    }
  });

  it('runs as `npm run db:migrate` with DATABASE_URL and prints what it applied', async () => {
    const url = await pgh.createDatabase('cli');
    const r = spawnSync('npm', ['run', '--silent', 'db:migrate'], { env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ msg: 'migrations', applied: readMigrations().map((m) => m.name), already_applied: [] });
  });
});
