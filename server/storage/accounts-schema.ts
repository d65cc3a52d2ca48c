/**
 * Users, their devices and what each may reach (docs/sync-api.md, "Accounts and devices").
 * Kept apart from the sync tables: only server/accounts.ts writes them; server/device-reports.ts
 * reads `devices` and `folder_access` to list a folder's devices (signed out; unshared left out).
 * A removed user's row stays (SQLite migration 16, PostgreSQL 14, add `removed_at`), under the name NAME/ID.
 */
export const ACCOUNTS_MIGRATION = `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
  );
  -- one row per paired device; token_hash is sha256 of its bearer token (never the token)
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER,
    revoked_at INTEGER
  );
  -- one-time pairing codes, hashed; used_at is set when a device traded it
  CREATE TABLE pairing_codes (
    code_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  ) WITHOUT ROWID;
  -- who may reach a folder: its owner (the user whose device created it) and who it is shared with
  CREATE TABLE folder_access (
    folder_id TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'shared')),
    PRIMARY KEY (folder_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX folder_access_by_user ON folder_access(user_id);
  -- blocks a user's devices uploaded (a block is stored once, whoever sent it first)
  CREATE TABLE block_uploads (
    hash TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (hash, user_id)
  ) WITHOUT ROWID;
  -- every block any version of a folder ever referred to: who reaches the folder may read it
  CREATE TABLE folder_blocks (
    hash TEXT NOT NULL,
    folder_id TEXT NOT NULL,
    PRIMARY KEY (hash, folder_id)
  ) WITHOUT ROWID;
  INSERT OR IGNORE INTO folder_blocks (hash, folder_id)
    SELECT j.value, v.folder_id FROM versions v, json_each(v.blocks) j WHERE v.blocks <> '[]';
  -- kept up to date by the database itself, so no writer of versions can forget it
  CREATE TRIGGER versions_folder_blocks AFTER INSERT ON versions WHEN NEW.blocks <> '[]'
  BEGIN
    INSERT OR IGNORE INTO folder_blocks (hash, folder_id) SELECT value, NEW.folder_id FROM json_each(NEW.blocks);
  END;
`;
