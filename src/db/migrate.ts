// Applies the SQL migrations under prisma/migrations/ (`npm run db:migrate`).
//
// Why not `prisma migrate deploy`: Prisma's schema engine is a native binary that the CLI
// downloads on first use, and machines here reach no host but the npm registry. The migrations
// are the SQL Prisma Migrate would run, in its directory layout, and they are recorded in
// Prisma's own `_prisma_migrations` table (same columns, sha256 checksums), so on a machine that
// has the schema engine `prisma migrate deploy` / `migrate status` see them as applied.
//
// Each migration runs in its own transaction under a session advisory lock (two replicas
// starting at once apply it once). An applied migration whose file changed since is an error.
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { MIGRATIONS_TABLE } from '../signals/index.ts';

/** prisma/migrations relative to this file (src/db/ and dist/db/ are both two levels down). */
export const DEFAULT_MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../prisma/migrations');
/** Arbitrary constant key for pg_advisory_lock, the same in every process. */
const LOCK_KEY = 72_707_369;

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
}

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = DEFAULT_MIGRATIONS_DIR): Migration[] {
  if (!existsSync(dir)) throw new Error(`migrations directory ${dir} does not exist`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'migration.sql')))
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "${MIGRATIONS_TABLE}" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export async function migrate(databaseUrl: string, dir = DEFAULT_MIGRATIONS_DIR): Promise<MigrationResult> {
  const migrations = readMigrations(dir);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const result: MigrationResult = { applied: [], alreadyApplied: [] };
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(CREATE_TABLE);
    const { rows } = await client.query<{ migration_name: string; checksum: string }>(
      `SELECT migration_name, checksum FROM "${MIGRATIONS_TABLE}" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    const done = new Map(rows.map((r) => [r.migration_name, r.checksum]));
    for (const m of migrations) {
      const applied = done.get(m.name);
      if (applied !== undefined) {
        if (applied !== m.checksum) throw new Error(`migration ${m.name} was modified after it was applied (checksum ${applied} != ${m.checksum})`);
        result.alreadyApplied.push(m.name);
        continue;
      }
      await client.query('BEGIN');
      try {
        const id = randomUUID();
        await client.query(`INSERT INTO "${MIGRATIONS_TABLE}" (id, checksum, migration_name) VALUES ($1, $2, $3)`, [id, m.checksum, m.name]);
        await client.query(m.sql);
        await client.query(`UPDATE "${MIGRATIONS_TABLE}" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`, [id]);
        await client.query('COMMIT');
        result.applied.push(m.name);
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
    }
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

if (import.meta.main) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('DATABASE_URL is not set');
    process.exit(2);
  }
  migrate(url).then(
    (r) => {
      process.stdout.write(`${JSON.stringify({ msg: 'migrations', applied: r.applied, already_applied: r.alreadyApplied })}\n`);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
