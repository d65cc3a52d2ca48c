import type Database from 'better-sqlite3';

/**
 * Schema migrations, in order of strictly increasing version; each brings the database to its
 * version (user_version). A gap is allowed while two changes land separately (5 before 4).
 * Never edit a migration that has shipped: add a new one. Each has its own test.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  up(db: Database.Database): void;
}

const v1Core: Migration = {
  version: 1,
  name: 'folders, settings, file index and the queue',
  up(db) {
    db.exec(`
      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      CREATE TABLE folders (
        id            TEXT PRIMARY KEY,
        local_root    TEXT NOT NULL UNIQUE,
        remote_id     TEXT NOT NULL,
        marker_id     TEXT,
        state         TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'error', 'paused_mass_delete')),
        error_code    TEXT,
        error_message TEXT,
        paused_reason TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      );

      -- What the scanner last saw on disk, plus the revision the server last accepted.
      CREATE TABLE file_index (
        folder_id       TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        path            TEXT NOT NULL,
        kind            TEXT NOT NULL CHECK (kind IN ('file', 'dir')),
        size            INTEGER NOT NULL DEFAULT 0,
        mtime_ms        REAL NOT NULL DEFAULT 0,
        inode           INTEGER,
        content_hash    TEXT,
        blocks          TEXT,
        synced_revision TEXT,
        updated_at      INTEGER NOT NULL,
        PRIMARY KEY (folder_id, path)
      );

      -- One row per path: a newer change replaces the row's snapshot and bumps generation.
      -- in_flight_generation is the generation a pusher is working on (NULL when none).
      CREATE TABLE queue (
        id                   INTEGER PRIMARY KEY,
        folder_id            TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        path                 TEXT NOT NULL,
        kind                 TEXT NOT NULL CHECK (kind IN ('file', 'dir')),
        op                   TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
        state                TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'retry_wait', 'failed', 'done')),
        priority             INTEGER NOT NULL,
        generation           INTEGER NOT NULL DEFAULT 1,
        in_flight_generation INTEGER,
        attempts             INTEGER NOT NULL DEFAULT 0,
        next_attempt_at      INTEGER NOT NULL,
        last_error_code      TEXT,
        last_error_message   TEXT,
        bytes_done           INTEGER NOT NULL DEFAULT 0,
        bytes_total          INTEGER NOT NULL DEFAULT 0,
        size                 INTEGER NOT NULL DEFAULT 0,
        mtime_ms             REAL NOT NULL DEFAULT 0,
        content_hash         TEXT,
        blocks               TEXT,
        base_revision        TEXT,
        enqueued_at          INTEGER NOT NULL,
        updated_at           INTEGER NOT NULL,
        UNIQUE (folder_id, path)
      );
      CREATE INDEX queue_due ON queue (state, priority, next_attempt_at) WHERE in_flight_generation IS NULL;
      CREATE INDEX queue_by_state ON queue (state, id);
      CREATE INDEX queue_by_folder_state ON queue (folder_id, state, id);
    `);
  },
};

const v2SyncState: Migration = {
  version: 2,
  name: 'async tasks, sync tokens, conflicts and the activity log',
  up(db) {
    db.exec(`
      -- An async batch the server accepted: polled again after a restart, never resubmitted.
      CREATE TABLE async_tasks (
        task_id     TEXT PRIMARY KEY,
        folder_id   TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        tracking_id TEXT NOT NULL,
        created_at  INTEGER NOT NULL
      );
      CREATE TABLE async_task_items (
        task_id    TEXT NOT NULL REFERENCES async_tasks(task_id) ON DELETE CASCADE,
        op_key     TEXT NOT NULL,
        queue_id   INTEGER NOT NULL,
        generation INTEGER NOT NULL,
        path       TEXT NOT NULL,
        PRIMARY KEY (task_id, op_key)
      );
      CREATE INDEX async_task_items_by_queue ON async_task_items (queue_id);

      CREATE TABLE sync_tokens (
        folder_id  TEXT PRIMARY KEY REFERENCES folders(id) ON DELETE CASCADE,
        token      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );

      CREATE TABLE conflicts (
        id          INTEGER PRIMARY KEY,
        folder_id   TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        path        TEXT NOT NULL,
        copy_path   TEXT NOT NULL,
        device      TEXT NOT NULL,
        detected_at INTEGER NOT NULL,
        resolved_at INTEGER
      );
      CREATE INDEX conflicts_open ON conflicts (folder_id, resolved_at);

      CREATE TABLE activity (
        id        INTEGER PRIMARY KEY,
        ts        INTEGER NOT NULL,
        folder_id TEXT,
        kind      TEXT NOT NULL,
        path      TEXT,
        message   TEXT NOT NULL
      );
    `);
  },
};

const v3PulledDuringFlight: Migration = {
  version: 3,
  name: 'queue: the generation in flight when the pull settled the path',
  up(db) {
    // A commit's answer that arrives after the pull acted on the path is older news than what
    // the pull saw: it must not overwrite the index or rebase the pull's change (chaos seed 26).
    db.exec(`ALTER TABLE queue ADD COLUMN pulled_during INTEGER`);
  },
};

const v4MassDeleteHolds: Migration = {
  version: 4,
  name: 'folders: the side and counts of a mass-delete pause; recent local deletes',
  up(db) {
    // A held mass delete must survive a restart with its side: Confirm after a restart once took
    // the scan side's branch for a pause the puller held (docs/conflict-rules.md, local deletes).
    db.exec(`
      ALTER TABLE folders ADD COLUMN paused_side TEXT CHECK (paused_side IN ('scan', 'pull'));
      ALTER TABLE folders ADD COLUMN paused_deletes INTEGER;
      ALTER TABLE folders ADD COLUMN paused_files INTEGER;

      -- The files and directories this disk deleted lately, with the version each delete removed:
      -- the guard judges deletes over a window, and a cancel uploads the ones already sent again.
      CREATE TABLE recent_deletes (
        folder_id  TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        path       TEXT NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('file', 'dir')),
        revision   TEXT,
        size       INTEGER NOT NULL DEFAULT 0,
        mtime_ms   REAL NOT NULL DEFAULT 0,
        blocks     TEXT,
        deleted_at INTEGER NOT NULL,
        PRIMARY KEY (folder_id, path)
      );
      CREATE INDEX recent_deletes_by_time ON recent_deletes (folder_id, deleted_at);
    `);
    // A pause from before this version: the scanner's when local deletes wait, else the puller's.
    db.exec(`
      UPDATE folders SET paused_side = CASE
        WHEN EXISTS (SELECT 1 FROM queue q WHERE q.folder_id = folders.id AND q.op = 'delete' AND q.state <> 'done') THEN 'scan'
        ELSE 'pull' END
      WHERE state = 'paused_mass_delete'
    `);
  },
};

const v5DownloadIntents: Migration = {
  version: 5,
  name: 'download intents: a pulled file about to be renamed into place',
  up(db) {
    // Written before a download's rename, removed with its index commit: a kill in between
    // leaves a file the index does not know, which the scanner then records as the download
    // it is instead of uploading it as new (chaos seed 86).
    db.exec(`
      CREATE TABLE download_intents (
        folder_id    TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        path         TEXT NOT NULL,
        revision     TEXT NOT NULL,
        size         INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        blocks       TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        PRIMARY KEY (folder_id, path)
      );
    `);
  },
};

const v6MassDeleteDetail: Migration = {
  version: 6,
  name: 'folders: which paths a held mass delete removes and which devices deleted them',
  up(db) {
    // The user answers a held delete knowing what it removes and where it came from: a few
    // paths and the deleting devices, kept with the hold so that a restart still shows them.
    db.exec(`ALTER TABLE folders ADD COLUMN paused_detail TEXT`);
  },
};

const v7QueuedMoves: Migration = {
  version: 7,
  name: 'queue: a move as one operation; the index looked up by inode',
  up(db) {
    // A rename is one queue row at its new path naming the old one (docs/conflict-rules.md,
    // "Pushing a move"): move_from is the old path, move_hash the content hash the old path had
    // synced (NULL when unknown: the move is then followed by an upload). The scanner finds the
    // old name of a path that appeared by its inode before hashing anything.
    db.exec(`
      ALTER TABLE queue ADD COLUMN move_from TEXT;
      ALTER TABLE queue ADD COLUMN move_hash TEXT;
      CREATE INDEX queue_live_moves ON queue (folder_id) WHERE move_from IS NOT NULL AND state <> 'done';
      CREATE INDEX file_index_by_inode ON file_index (folder_id, inode) WHERE inode IS NOT NULL;
    `);
  },
};

const v8UndoBatches: Migration = {
  version: 8,
  name: 'undo batches: what a confirmed mass delete removed, so that Undo outlives a restart',
  up(db) {
    // One row per folder: its last confirmed mass delete, until undone, dismissed or expired.
    db.exec(`
      CREATE TABLE undo_batches (
        folder_id    TEXT PRIMARY KEY REFERENCES folders(id) ON DELETE CASCADE,
        side         TEXT NOT NULL CHECK (side IN ('scan', 'pull')),
        paths        TEXT NOT NULL,
        confirmed_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL
      );
    `);
  },
};

const v9PendingMoveSources: Migration = {
  version: 9,
  name: 'pending move sources: the old path and revision of each entry below a directory move not yet sent',
  up(db) {
    // Set on the index rows a directory rename carried (docs/conflict-rules.md, P10): what the
    // entry was on the server before the move, kept apart from synced_revision, which the pull
    // may write for the new path meanwhile. Cleared when the move lands or is undone.
    db.exec(`
      ALTER TABLE file_index ADD COLUMN move_from TEXT;
      ALTER TABLE file_index ADD COLUMN move_base TEXT;
    `);
  },
};

const v10CreateSent: Migration = {
  version: 10,
  name: 'queue: a create of the path was sent from this row (it may be on the server without an answer)',
  up(db) {
    // Set when a create (an upsert on no base) is claimed, kept while the row stays live, so the
    // user's delete of it goes to the server instead of dropping it (docs/conflict-rules.md, "A
    // create sent without an answer, then deleted"). Rows from before: a claimed create counts.
    db.exec(`
      ALTER TABLE queue ADD COLUMN create_sent INTEGER NOT NULL DEFAULT 0;
      UPDATE queue SET create_sent = 1 WHERE state <> 'done' AND op = 'upsert' AND base_revision IS NULL AND attempts > 0;
    `);
  },
};

const v11IntentInode: Migration = {
  version: 11,
  name: 'download intents: the inode the download was written to',
  up(db) {
    // A file found with that inode after a kill is the download, renamed into place, whatever
    // the user changed in it since (docs/conflict-rules.md, "Download intents"). Older rows: none.
    db.exec(`ALTER TABLE download_intents ADD COLUMN inode INTEGER`);
  },
};

const v12MoveSent: Migration = {
  version: 12,
  name: 'queue: a move of the path sent from this row counts as sent (it may be on the server without an answer)',
  up(db) {
    // create_sent now also marks a claimed move, so that a delete or a further rename of its
    // target carries it (docs/conflict-rules.md, "A move sent without an answer"). Rows from
    // before: a claimed move counts.
    db.exec(`UPDATE queue SET create_sent = 1 WHERE state <> 'done' AND move_from IS NOT NULL AND attempts > 0`);
  },
};

const v13DirReplacements: Migration = {
  version: 13,
  name: 'queue: folders that replace a file, for the claim of what is below them',
  up(db) {
    // What is below such a folder waits for its upsert (docs/conflict-rules.md, S24): the claim
    // looks for one above each due row, in this index, nearly always empty.
    db.exec(`CREATE INDEX queue_live_dir_replacements ON queue (folder_id) WHERE kind = 'dir' AND op = 'upsert' AND base_revision IS NOT NULL AND state <> 'done'`);
  },
};

const v14ConflictRestores: Migration = {
  version: 14,
  name: 'conflicts: the version that took the path was a restore (of this revision)',
  up(db) {
    db.exec(`ALTER TABLE conflicts ADD COLUMN restored_from TEXT`);
  },
};

const v15SentBatches: Migration = {
  version: 15,
  name: 'async tasks: a commit batch recorded before it is sent, with the operations it sends',
  up(db) {
    // Sent again after a restart under its tracking id (docs/conflict-rules.md, "Uploads in flight").
    db.exec(`ALTER TABLE async_tasks ADD COLUMN operations TEXT`);
  },
};

const v16UndoDevices: Migration = {
  version: 16,
  name: 'undo batches: the devices whose deletes a confirmed pull applied',
  up(db) {
    // The Undo offer names who deleted, as the held delete did (docs/conflict-rules.md, "Undo of a confirmed mass delete").
    db.exec(`ALTER TABLE undo_batches ADD COLUMN devices TEXT NOT NULL DEFAULT '[]'`);
  },
};

const v17BirthTime: Migration = {
  version: 17,
  name: 'file index: when each file was made, where the file system tells',
  up(db) {
    // A file renamed and written at once is told from a new file on a reused inode by it
    // (docs/conflict-rules.md, "Detecting a move locally"). NULL: not known.
    db.exec(`ALTER TABLE file_index ADD COLUMN birthtime_ms REAL`);
  },
};

const v18ConflictCopiesMadeElsewhere: Migration = {
  version: 18,
  name: 'conflicts: a copy another device made, listed here from its name',
  up(db) {
    // NULL: this device made the copy (docs/conflict-rules.md, "Conflict copies": open until settled).
    db.exec(`ALTER TABLE conflicts ADD COLUMN made_by TEXT`);
  },
};

const v19ActivityByPath: Migration = {
  version: 19,
  name: 'activity: looked up by path',
  up(db) {
    // A name the scan skips is said once, not at every start: its last line is looked up (Scanner.skip).
    db.exec(`CREATE INDEX activity_path ON activity (folder_id, path) WHERE path IS NOT NULL`);
  },
};

const v20IgnoredRemote: Migration = {
  version: 20,
  name: 'the paths the server has that an ignore rule keeps from here',
  up(db) {
    // The folder's summary counts them (docs/conflict-rules.md, "Ignored paths"). Recorded by the
    // pulls; the sync tokens go, so each folder's next pull is a full listing that records them:
    // an incremental one would never list again what was left before.
    db.exec(`
      CREATE TABLE ignored_remote (
        folder_id TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        path      TEXT NOT NULL,
        PRIMARY KEY (folder_id, path)
      ) WITHOUT ROWID;
      DELETE FROM sync_tokens;
    `);
  },
};

export const MIGRATIONS: readonly Migration[] = [
  v1Core,
  v2SyncState,
  v3PulledDuringFlight,
  v4MassDeleteHolds,
  v5DownloadIntents,
  v6MassDeleteDetail,
  v7QueuedMoves,
  v8UndoBatches,
  v9PendingMoveSources,
  v10CreateSent,
  v11IntentInode,
  v12MoveSent,
  v13DirReplacements,
  v14ConflictRestores,
  v15SentBatches,
  v16UndoDevices,
  v17BirthTime,
  v18ConflictCopiesMadeElsewhere,
  v19ActivityByPath,
  v20IgnoredRemote,
];
