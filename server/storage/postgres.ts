import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { FerryError } from '../../protocol/errors';
import type { SharedGcFence } from '../gc';
import { checkPostgresUrl } from './urls';
import { numberedPlaceholders, type SqlDb, type SqlParam } from './sql';

export { redactUrl } from './urls';

/**
 * Ordered PostgreSQL migrations, tracked in `ferry_schema`: migration i brings the schema to
 * version i + 1 (the same tables as SQLite's, server/storage/db.ts). Append only. Paths and
 * ids compare byte by byte (COLLATE "C"), as in SQLite: range scans below a directory rely on it.
 */
export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE folders (
    id TEXT COLLATE "C" PRIMARY KEY,
    label TEXT,
    created_at BIGINT NOT NULL,
    prune_horizon BIGINT NOT NULL DEFAULT 0
  );
  CREATE TABLE versions (
    seq BIGSERIAL PRIMARY KEY,
    folder_id TEXT COLLATE "C" NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'dir')),
    deleted INTEGER NOT NULL,
    size BIGINT NOT NULL,
    mtime DOUBLE PRECISION NOT NULL,
    blocks TEXT NOT NULL,
    modified_at BIGINT NOT NULL,
    device TEXT NOT NULL,
    task_id TEXT,
    moved_from TEXT COLLATE "C"
  );
  CREATE INDEX versions_by_path ON versions(folder_id, path);
  CREATE INDEX versions_by_time ON versions(modified_at);
  CREATE TABLE entries (
    folder_id TEXT COLLATE "C" NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'dir')),
    deleted INTEGER NOT NULL,
    size BIGINT NOT NULL,
    mtime DOUBLE PRECISION NOT NULL,
    blocks TEXT NOT NULL,
    modified_at BIGINT NOT NULL,
    device TEXT NOT NULL,
    moved_from TEXT COLLATE "C",
    PRIMARY KEY (folder_id, path)
  );
  CREATE UNIQUE INDEX entries_by_seq ON entries(folder_id, seq);
  CREATE INDEX entries_tombstones ON entries(deleted, modified_at);
  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    ord BIGSERIAL,
    tracking_id TEXT UNIQUE,
    fingerprint TEXT NOT NULL,
    folder_id TEXT COLLATE "C" NOT NULL,
    single_operation INTEGER NOT NULL,
    status TEXT NOT NULL,
    operations TEXT NOT NULL,
    operation_count INTEGER NOT NULL,
    device TEXT NOT NULL,
    run TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE INDEX tasks_by_status ON tasks(status, created_at);
  CREATE TABLE task_results (
    task_id TEXT NOT NULL,
    key TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (task_id, key)
  );
  CREATE TABLE idempotency (
    tracking_id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE INDEX idempotency_by_time ON idempotency(created_at);
  CREATE TABLE packed_blocks (
    hash TEXT PRIMARY KEY,
    pack TEXT NOT NULL,
    "offset" BIGINT NOT NULL,
    size BIGINT NOT NULL
  );
  CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT,
    revoked_at BIGINT
  );
  CREATE TABLE pairing_codes (
    code_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
  );
  CREATE TABLE folder_access (
    folder_id TEXT COLLATE "C" NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'shared')),
    PRIMARY KEY (folder_id, user_id)
  );
  CREATE INDEX folder_access_by_user ON folder_access(user_id);
  CREATE TABLE block_uploads (
    hash TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (hash, user_id)
  );
  CREATE TABLE folder_blocks (
    hash TEXT NOT NULL,
    folder_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (hash, folder_id)
  );
  -- kept up to date by the database itself, so no writer of versions can forget it
  CREATE FUNCTION versions_folder_blocks() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NEW.blocks <> '[]' THEN
      INSERT INTO folder_blocks (hash, folder_id)
        SELECT h, NEW.folder_id FROM jsonb_array_elements_text(NEW.blocks::jsonb) AS h
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NEW;
  END $$;
  CREATE TRIGGER versions_folder_blocks AFTER INSERT ON versions FOR EACH ROW EXECUTE FUNCTION versions_folder_blocks();
  CREATE TABLE device_reports (
    folder_id TEXT COLLATE "C" NOT NULL,
    device TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    applied_seq BIGINT,
    pending INTEGER NOT NULL,
    failed_count INTEGER NOT NULL,
    failures TEXT NOT NULL,
    reported_at BIGINT NOT NULL,
    PRIMARY KEY (folder_id, device)
  );
  CREATE INDEX device_reports_by_time ON device_reports(reported_at);
  -- the key feed tokens and cursors are signed with: one for every process, so a token one
  -- process issued verifies on any other
  CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 2: which process runs a task, and until when its lease holds (server/task-leases.ts).
  `
  ALTER TABLE tasks ADD COLUMN owner TEXT;
  ALTER TABLE tasks ADD COLUMN lease_until BIGINT;
  `,
  // 3: the paired device a device report was sent with (SQLite migration 7; docs/sync-api.md, "Devices").
  `
  ALTER TABLE device_reports ADD COLUMN paired_device TEXT;
  `,
  // 4: paths held by running tasks, shared by every process (server/path-locks.ts): a row
  // holds while its task is unfinished; owner is the process that took it.
  `
  CREATE TABLE path_locks (
    folder_id TEXT COLLATE "C" NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    task_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    PRIMARY KEY (folder_id, path)
  );
  CREATE INDEX path_locks_by_task ON path_locks(task_id);
  `,
  // 5: the garbage collection epoch (server/gc.ts, SharedGcFence): moved by every GC run, read by
  // every batch that looked its blocks up before it, so a commit after a GC of another process
  // looks them up again.
  `
  CREATE TABLE gc_epoch (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL);
  INSERT INTO gc_epoch (id, n) VALUES (1, 0);
  `,
  // 6: the revisions moves wrote, by the path they came from (SQLite migration 8): the deleted
  // listing leaves out a move's tombstone.
  `
  CREATE INDEX versions_moved_from ON versions(folder_id, moved_from) WHERE moved_from IS NOT NULL;
  `,
  // 7: blocks whose bytes a read found gone (SQLite migration 9; server/lost-blocks.ts).
  `
  CREATE TABLE lost_blocks (
    hash TEXT PRIMARY KEY,
    noticed_at BIGINT NOT NULL
  );
  `,
  // 8: the revision a restore brought back (SQLite migration 10; docs/sync-api.md, "History and restore").
  `
  ALTER TABLE versions ADD COLUMN restored_from BIGINT;
  ALTER TABLE entries ADD COLUMN restored_from BIGINT;
  `,
  // 9: the revisions restores wrote, by the revision they brought back (SQLite migration 11).
  `
  CREATE INDEX versions_restored_from ON versions(folder_id, restored_from) WHERE restored_from IS NOT NULL;
  `,
  // 10: a device's folder in error, as its report said (SQLite migration 12).
  `
  ALTER TABLE device_reports ADD COLUMN folder_error TEXT;
  `,
  // 11: a device paused by its user, as its report said (SQLite migration 13).
  `
  ALTER TABLE device_reports ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
  `,
  // 12: of a device's failing paths, its names that cannot be synced, and a bulk delete there
  // waiting for its user (SQLite migration 14).
  `
  ALTER TABLE device_reports ADD COLUMN unsyncable_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE device_reports ADD COLUMN mass_delete_held INTEGER NOT NULL DEFAULT 0;
  `,
  // 13: a device whose agent was quit, as its last report said (SQLite migration 15).
  `
  ALTER TABLE device_reports ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0;
  `,
  // 14: users removed with \`ferry server user remove\` (SQLite migration 16).
  `
  ALTER TABLE users ADD COLUMN removed_at BIGINT;
  `,
  // 15: when the newest run a device reported a folder from started (SQLite migration 17).
  `
  ALTER TABLE device_reports ADD COLUMN run_started BIGINT;
  `,
];

/** Serialises migrations of several processes starting at once (any constant would do). */
const MIGRATION_LOCK = 0x66657272; // 'ferr'
/** Held exclusively by a garbage collection, shared by every batch transaction (server/gc.ts). */
const GC_LOCK = 0x66676300; // 'fgc'

/**
 * The cross-process half of the GC fence on PostgreSQL (docs/sync-api.md, "Retention and garbage
 * collection"): a run holds an advisory lock exclusively and moves the epoch first thing; a
 * batch reads the epoch (waiting out a run in progress) before it looks its blocks up, and again
 * inside each commit under the lock held shared. A different epoch at commit means a GC ran in
 * between: the commit looks its blocks up again, under the lock, so none it refers to is gone.
 */
export function postgresGcFence(db: PostgresDb): SharedGcFence {
  const readEpoch = async (): Promise<number> => ((await db.get<{ n: number }>('SELECT n FROM gc_epoch WHERE id = 1')) as { n: number }).n;
  return {
    exclusively: (fn) =>
      withSessionLock(db.pool, GC_LOCK, async (client, lost) => {
        // An idle lock connection a server setting ends would let the lock go mid-sweep.
        await client.query('SET idle_session_timeout = 0').catch(() => undefined);
        // Before anything is removed: a connection lost mid-run still leaves the epoch moved.
        await client.query('UPDATE gc_epoch SET n = n + 1 WHERE id = 1');
        // Asked before each removal: with the connection gone, PostgreSQL let the lock go, and a
        // commit on another process may refer to a block the live set did not hold.
        const lockLost = (cause: Error) => new FerryError('gc_lock_lost', `The garbage collection lost its lock (${cause.message}); it stops and runs again later`, { retryable: true, cause });
        return fn(async () => {
          const gone = lost();
          if (gone) throw lockLost(gone);
          await client.query('SELECT 1').catch((error: Error) => {
            throw lockLost(error);
          });
        });
      }),
    // A transaction of its own: the shared lock waits for a run in progress and goes at commit.
    epoch: () =>
      db.tx(async () => {
        await db.get('SELECT pg_advisory_xact_lock_shared(?)', [GC_LOCK]);
        return readEpoch();
      }),
    // Two statements: the read's snapshot must come after the lock was granted.
    async epochInCommit() {
      await db.get('SELECT pg_advisory_xact_lock_shared(?)', [GC_LOCK]);
      return readEpoch();
    },
  };
}

/** PostgreSQL through a pg pool; a transaction holds one pooled connection until it ends. */
export class PostgresDb implements SqlDb {
  readonly dialect = 'postgres' as const;
  private readonly tx$ = new AsyncLocalStorage<pg.PoolClient>();
  private readonly texts = new Map<string, string>();

  constructor(
    readonly pool: pg.Pool,
    /** For connections of its own (LISTEN: server/storage/pg-wakeups.ts). */
    readonly url: string,
  ) {}

  private text(sql: string): string {
    let text = this.texts.get(sql);
    if (text === undefined) {
      text = numberedPlaceholders(sql);
      this.texts.set(sql, text);
    }
    return text;
  }

  private async query<T>(sql: string, params: readonly SqlParam[]): Promise<pg.QueryResult<T & pg.QueryResultRow>> {
    const client = this.tx$.getStore() ?? this.pool;
    return client.query<T & pg.QueryResultRow>(this.text(sql), params as SqlParam[]);
  }

  async get<T>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    return (await this.query<T>(sql, params)).rows[0];
  }

  async all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    return (await this.query<T>(sql, params)).rows;
  }

  async run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  async tx<T>(fn: () => Promise<T>): Promise<T> {
    if (this.tx$.getStore()) return fn();
    const client = await this.pool.connect();
    let broken: unknown;
    // The pool listens for errors of idle connections only: one that PostgreSQL drops (a
    // restart) while this transaction holds it between queries emits 'error', which with no
    // listener ended the process (chaos seeds 6 and 8, --backend postgres --servers 2).
    const lost = (error: Error): void => void (broken = error);
    client.on('error', lost);
    try {
      await client.query('BEGIN');
      const value = await this.tx$.run(client, fn);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
      throw error;
    } finally {
      client.off('error', lost);
      // A connection whose rollback failed, or that was lost, is dropped, not reused.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** BIGINT and NUMERIC as JS numbers: seqs and epoch milliseconds stay far below 2^53. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 || oid === 1700) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export function newPool(url: string, max = 10): pg.Pool {
  checkPostgresUrl(url);
  const pool = new pg.Pool({ connectionString: url, max, types });
  // An idle connection the server dropped (a restart) is replaced on next use; without a
  // listener the error would end the process.
  pool.on('error', () => undefined);
  return pool;
}

/** Applies the migrations this database lacks: its schema version before and after. Safe with several processes. */
export async function migratePostgres(pool: pg.Pool): Promise<{ from: number; to: number }> {
  return withSessionLock(pool, MIGRATION_LOCK, async (client) => {
    await client.query('CREATE TABLE IF NOT EXISTS ferry_schema (version INTEGER NOT NULL)');
    const row = (await client.query<{ version: number }>('SELECT version FROM ferry_schema')).rows[0];
    if (!row) await client.query('INSERT INTO ferry_schema (version) VALUES (0)');
    const current = row?.version ?? 0;
    if (current > PG_MIGRATIONS.length) throw new Error(`Database schema version ${current} is newer than this server (${PG_MIGRATIONS.length})`);
    for (let version = current; version < PG_MIGRATIONS.length; version++) {
      await client.query('BEGIN');
      try {
        await client.query(PG_MIGRATIONS[version] as string);
        await client.query('UPDATE ferry_schema SET version = $1', [version + 1]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
    return { from: current, to: PG_MIGRATIONS.length };
  });
}

/**
 * Runs fn on a connection of its own holding a session advisory lock (waiting for it), then
 * lets the lock go. As in PostgresDb.tx, a connection dropped while held must not end the
 * process: it is dropped from the pool, and PostgreSQL releases its lock with it.
 */
async function withSessionLock<T>(pool: pg.Pool, key: number, fn: (client: pg.PoolClient, lost: () => Error | undefined) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (error: Error): void => void (lost = error);
  client.on('error', onError);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [key]);
    try {
      return await fn(client, () => lost);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => undefined);
    }
  } finally {
    client.off('error', onError);
    client.release(lost);
  }
}

/** The secret every process shares: `proposed` when this process is the first to ask. */
export async function sharedSecret(db: PostgresDb, name: string, proposed: string): Promise<string> {
  await db.run('INSERT INTO server_secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING', [name, proposed]);
  const row = await db.get<{ value: string }>('SELECT value FROM server_secrets WHERE name = ?', [name]);
  return row?.value ?? proposed;
}

export async function openPostgresMetadata(url: string): Promise<PostgresDb> {
  const pool = newPool(url);
  try {
    await migratePostgres(pool);
    // Connections opened now, not under a client's first batch (authentication costs a few round trips).
    await Promise.all(Array.from({ length: 4 }, () => pool.query('SELECT 1')));
  } catch (error) {
    await pool.end();
    throw error;
  }
  return new PostgresDb(pool, url);
}
