import Database from 'better-sqlite3';
import path from 'node:path';
import { ACCOUNTS_MIGRATION } from './accounts-schema';
import { SqliteDb } from './sql';

export type Db = Database.Database;

/**
 * Ordered migrations, tracked by `PRAGMA user_version`: migration i brings the schema to
 * version i + 1. Append only; never edit one that has shipped.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE folders (
    id TEXT PRIMARY KEY,
    label TEXT,
    created_at INTEGER NOT NULL,
    -- highest seq of a tombstone pruned from this folder: older tokens may have missed it
    prune_horizon INTEGER NOT NULL DEFAULT 0
  );
  -- the change log: every revision ever written; seq is the global revision number
  CREATE TABLE versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    folder_id TEXT NOT NULL,
    path TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    blocks TEXT NOT NULL,
    modified_at INTEGER NOT NULL,
    device TEXT NOT NULL,
    task_id TEXT
  );
  CREATE INDEX versions_by_path ON versions(folder_id, path);
  CREATE INDEX versions_by_time ON versions(modified_at);
  -- the current version of every path (tombstones included until pruned)
  CREATE TABLE entries (
    folder_id TEXT NOT NULL,
    path TEXT NOT NULL,
    seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    blocks TEXT NOT NULL,
    modified_at INTEGER NOT NULL,
    device TEXT NOT NULL,
    PRIMARY KEY (folder_id, path)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX entries_by_seq ON entries(folder_id, seq);
  CREATE INDEX entries_tombstones ON entries(deleted, modified_at);
  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    tracking_id TEXT UNIQUE,
    fingerprint TEXT NOT NULL,
    folder_id TEXT NOT NULL,
    single_operation INTEGER NOT NULL,
    status TEXT NOT NULL,
    operations TEXT NOT NULL,
    operation_count INTEGER NOT NULL,
    device TEXT NOT NULL,
    run TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX tasks_by_status ON tasks(status, created_at);
  -- per-operation results, written in the same transaction as the operation itself
  CREATE TABLE task_results (
    task_id TEXT NOT NULL,
    key TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (task_id, key)
  ) WITHOUT ROWID;
  -- first answers to mutating requests, by X-Tracking-Id
  CREATE TABLE idempotency (
    tracking_id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX idempotency_by_time ON idempotency(created_at);
  `,
  // 2: directories are entries of their own (empty folders and folder deletes sync); every
  // row written before this is a file. Tombstones keep the kind of what was deleted.
  `
  ALTER TABLE versions ADD COLUMN kind TEXT NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'dir'));
  ALTER TABLE entries ADD COLUMN kind TEXT NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'dir'));
  `,
  // 3: small blocks uploaded in a batch are kept together in a pack file (one fsync per batch);
  // this says where each one is. A block is stored when its file or its row exists.
  `
  CREATE TABLE packed_blocks (
    hash TEXT PRIMARY KEY,
    pack TEXT NOT NULL,
    offset INTEGER NOT NULL,
    size INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 4: users, paired devices, pairing codes, and which folders and blocks each user reaches.
  ACCOUNTS_MIGRATION,
  // 5: each device's digest of each folder it syncs (docs/sync-api.md, "Devices"): the
  // position it applied (a feed seq; NULL before its first pull), what it has not sent, and
  // its failing paths. One row per folder and device, replaced at every report.
  `
  CREATE TABLE device_reports (
    folder_id TEXT NOT NULL,
    device TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    applied_seq INTEGER,
    pending INTEGER NOT NULL,
    failed_count INTEGER NOT NULL,
    failures TEXT NOT NULL,
    reported_at INTEGER NOT NULL,
    PRIMARY KEY (folder_id, device)
  ) WITHOUT ROWID;
  CREATE INDEX device_reports_by_time ON device_reports(reported_at);
  `,
  // 6: moves (docs/sync-api.md, "Moves"): the new entry of a move names its old path, so the
  // feed can say `movedFrom`; any later write of the path clears it.
  `
  ALTER TABLE versions ADD COLUMN moved_from TEXT;
  ALTER TABLE entries ADD COLUMN moved_from TEXT;
  `,
  // 7: the paired device (its credential) a device report was sent with: only that device
  // reports under that id again (docs/sync-api.md, "Devices"); NULL for the server token.
  `
  ALTER TABLE device_reports ADD COLUMN paired_device TEXT;
  `,
  // 8: the revisions moves wrote, by the path they came from: the deleted listing leaves out a
  // move's tombstone (docs/sync-api.md, "History and restore").
  `
  CREATE INDEX versions_moved_from ON versions(folder_id, moved_from) WHERE moved_from IS NOT NULL;
  `,
  // 9: blocks a version refers to whose bytes a read found gone (server/lost-blocks.ts): the
  // devices syncing those folders are asked to upload them again.
  `
  CREATE TABLE lost_blocks (
    hash TEXT PRIMARY KEY,
    noticed_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 10: a restore's revision names the revision whose content it brought back, so the feed can
  // say `restoredFrom` (docs/sync-api.md, "History and restore"); any later write clears it.
  `
  ALTER TABLE versions ADD COLUMN restored_from INTEGER;
  ALTER TABLE entries ADD COLUMN restored_from INTEGER;
  `,
  // 11: the revisions restores wrote, by the revision they brought back: the deleted listing
  // leaves out a path whose last version a restore brought back under another name that lives.
  `
  CREATE INDEX versions_restored_from ON versions(folder_id, restored_from) WHERE restored_from IS NOT NULL;
  `,
  // 12: a device's folder in error, as its report said (docs/sync-api.md, "Devices").
  `
  ALTER TABLE device_reports ADD COLUMN folder_error TEXT;
  `,
  // 13: a device paused by its user, as its report said (docs/sync-api.md, "Devices").
  `
  ALTER TABLE device_reports ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
  `,
  // 14: of a device's failing paths, its names that cannot be synced, and a bulk delete there
  // waiting for its user (docs/sync-api.md, "Devices").
  `
  ALTER TABLE device_reports ADD COLUMN unsyncable_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE device_reports ADD COLUMN mass_delete_held INTEGER NOT NULL DEFAULT 0;
  `,
  // 15: a device whose agent was quit, as its last report said (docs/sync-api.md, "Devices").
  `
  ALTER TABLE device_reports ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0;
  `,
  // 16: users removed with \`ferry server user remove\` (server/accounts.ts, removeUser): the row
  // stays, so their devices stay attributable, its name moved aside to NAME/ID so NAME is free.
  `
  ALTER TABLE users ADD COLUMN removed_at INTEGER;
  `,
  // 17: when the newest run a device reported a folder from started (X-Ferry-Run's stamp, ms; NULL
  // when not known): a late stopped report of an earlier run is ignored (docs/sync-api.md, "Devices").
  `
  ALTER TABLE device_reports ADD COLUMN run_started INTEGER;
  `,
];

export function migrate(db: Db): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`Database schema version ${current} is newer than this server (${MIGRATIONS.length})`);
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
  return MIGRATIONS.length;
}

/** The SQLite metadata database of a data directory. */
export const sqliteFile = (dataDir: string): string => path.join(dataDir, 'server.db');

export function openServerDb(dataDir: string): Db {
  const db = new Database(sqliteFile(dataDir));
  db.pragma('journal_mode = WAL');
  // WAL + NORMAL is durable across process crashes; the OS crashing may lose the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

/** The data directory's database behind the engine-neutral interface the server uses (server/storage/sql.ts). */
export function openSqliteMetadata(dataDir: string): SqliteDb {
  return new SqliteDb(openServerDb(dataDir));
}
