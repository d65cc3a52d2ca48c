import Database from 'better-sqlite3';
import { FerryError } from '../../protocol/errors';
import { createLogger } from '../logging';
import { MIGRATIONS, type Migration } from './migrations';

export type Db = Database.Database;

const log = createLogger('store');

export interface OpenDbOptions {
  /** Defaults to the shipped list; tests pass a prefix to stop at an older version. */
  migrations?: readonly Migration[];
  /** better-sqlite3 built for another ABI (Electron's), passed as its `nativeBinding`. */
  nativeBinding?: string;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Opens (creating if needed) a state database and brings it to the newest schema.
 * WAL with synchronous=NORMAL: a killed process loses nothing committed; a power cut may
 * lose the last commits, but index and queue roll back together and the start-up
 * reconcile finds those changes again.
 */
export function openDb(file: string, options: OpenDbOptions = {}): Db {
  const db = new Database(file, options.nativeBinding ? { nativeBinding: options.nativeBinding } : {});
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    // 2 MiB of page cache, not the 16 MiB better-sqlite3 builds in: the agent keeps the state
    // database open all day, and the OS page cache serves the rest of its reads.
    db.pragma('cache_size = -2048');
    migrate(db, options.migrations ?? MIGRATIONS);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

export interface MigrationResult {
  from: number;
  to: number;
}

/** Applies every pending migration in one transaction; refuses a newer database. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): MigrationResult {
  checkOrder(migrations);
  const latest = migrations.at(-1)?.version ?? 0;
  const from = schemaVersion(db);
  if (from > latest) {
    throw new FerryError(
      'store_newer_version',
      `The state database is at schema version ${from}, newer than this Ferry supports (${latest}). ` +
        'Update Ferry, or move the database aside to start over.',
      { details: { found: from, supported: latest } },
    );
  }
  if (from === latest) return { from, to: from };
  const pending = migrations.filter((m) => m.version > from);
  db.transaction(() => {
    for (const migration of pending) {
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    }
  })();
  log.info('migrated state database', { from, to: latest });
  return { from, to: latest };
}

function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new FerryError('store_bad_migrations', `migration #${i} has version ${m.version}, expected ${i + 1}`);
    }
  });
}
