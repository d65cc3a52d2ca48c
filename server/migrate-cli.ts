import { parseArgs } from 'node:util';
import { isFerryError } from '../protocol';
import { PG_MIGRATIONS, migratePostgres, newPool, redactUrl } from './storage/postgres';

export const MIGRATE_USAGE = `Usage: ferry server migrate --db postgres://…

Brings a PostgreSQL metadata database to this server's schema (${PG_MIGRATIONS.length} migrations), then exits.
Servers started with --db migrate on their own too; this runs it once, before a rollout.
`;

/** `ferry server migrate`: 0 done, 1 failed, 2 usage error. */
export async function runMigrate(argv: string[], io = { out: (t: string) => process.stdout.write(t), err: (t: string) => process.stderr.write(t) }): Promise<number> {
  let db: string | undefined;
  try {
    const { values } = parseArgs({ args: argv, strict: true, options: { db: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      io.out(MIGRATE_USAGE);
      return 0;
    }
    db = values.db;
    if (!db) throw new Error('--db postgres://… is required');
  } catch (error) {
    io.err(`ferry server migrate: ${(error as Error).message}\n\n${MIGRATE_USAGE}`);
    return 2;
  }
  let pool;
  try {
    pool = newPool(db, 1);
  } catch (error) {
    io.err(`ferry server migrate: ${isFerryError(error) ? `${error.message} (${error.code})` : String(error)}\n`);
    return 2;
  }
  try {
    const version = await migratePostgres(pool);
    io.out(`Migrated ${redactUrl(db)} to schema version ${version}\n`);
    return 0;
  } catch (error) {
    io.err(`ferry server migrate: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await pool.end();
  }
}
