import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';

export type SqlParam = string | number | null;

/**
 * The server's metadata database, whichever engine holds it (docs/architecture.md, "Server
 * storage"): SQLite in the data directory, or PostgreSQL shared by several server processes.
 * Statements are written once, with `?` placeholders, in the SQL both engines speak; the few
 * places that differ ask `dialect`.
 *
 * Inside `tx(fn)` every statement the async call tree of `fn` runs belongs to the transaction
 * (the transaction is found through AsyncLocalStorage, so callers pass no handle around);
 * statements from elsewhere wait for it (SQLite) or run on another connection (PostgreSQL).
 */
export interface SqlDb {
  readonly dialect: 'sqlite' | 'postgres';
  get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  /** Rows changed. */
  run(sql: string, params?: readonly SqlParam[]): Promise<number>;
  /** Runs fn in one transaction: committed when it resolves, rolled back when it throws. A nested call joins the outer one. */
  tx<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * SQLite through better-sqlite3: one connection, so a transaction holds it until it ends and
 * statements from outside wait for it (they would otherwise land inside the transaction).
 */
export class SqliteDb implements SqlDb {
  readonly dialect = 'sqlite' as const;
  /** Prepared once per SQL text: preparing costs more than running. */
  private readonly statements = new Map<string, Statement>();
  private readonly inTx = new AsyncLocalStorage<true>();
  private held: Promise<void> | null = null;

  constructor(readonly raw: Database.Database) {}

  private statement(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.raw.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  /** Waits while another call tree's transaction holds the connection. */
  private async free(): Promise<void> {
    while (this.held && !this.inTx.getStore()) await this.held;
  }

  async get<T>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    if (this.held) await this.free();
    return this.statement(sql).get(...params) as T | undefined;
  }

  async all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    if (this.held) await this.free();
    return this.statement(sql).all(...params) as T[];
  }

  async run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    if (this.held) await this.free();
    return this.statement(sql).run(...params).changes;
  }

  async tx<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inTx.getStore()) return fn();
    while (this.held) await this.held;
    let release!: () => void;
    this.held = new Promise((resolve) => (release = resolve));
    try {
      // IMMEDIATE: the write lock from the start. Another process writes this file too (the account
      // commands of `ferry server` while the server runs): a deferred transaction that read, then
      // wrote after the other committed, failed at once with SQLITE_BUSY (found by review); this
      // one waits for the other's commit (busy_timeout) before it reads.
      this.raw.exec('BEGIN IMMEDIATE');
      const value = await this.inTx.run(true, fn);
      this.raw.exec('COMMIT');
      return value;
    } catch (error) {
      if (this.raw.inTransaction) this.raw.exec('ROLLBACK');
      throw error;
    } finally {
      this.held = null;
      release();
    }
  }

  async close(): Promise<void> {
    await this.free();
    this.raw.close();
  }
}

/** `?` placeholders as `$1, $2…` (PostgreSQL's), leaving quoted text alone. */
export function numberedPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === '?') out += `$${++n}`;
    else out += ch;
  }
  return out;
}

/** The columns a new version is written with (seq is its own); both engines' schemas (db.ts, postgres.ts). */
export const VERSION_COLUMNS = 'folder_id, path, kind, deleted, size, mtime, blocks, modified_at, device, task_id, moved_from, restored_from';
/** An entry is its path's newest version (`versions` has these columns too, and `task_id`). */
/** Paths strictly below dir, as a range (`path > ? AND path < ?`): '0' sorts right after '/'. */
export const underBounds = (dir: string): [string, string] => [`${dir}/`, `${dir}0`];

export const ENTRY_COLUMNS = 'folder_id, path, seq, kind, deleted, size, mtime, blocks, modified_at, device, moved_from, restored_from';
/** An entry written again takes every column of its new version. */
export const ENTRY_UPSERT = `ON CONFLICT (folder_id, path) DO UPDATE SET seq = excluded.seq, kind = excluded.kind, deleted = excluded.deleted, size = excluded.size,
  mtime = excluded.mtime, blocks = excluded.blocks, modified_at = excluded.modified_at, device = excluded.device, moved_from = excluded.moved_from,
  restored_from = excluded.restored_from`;
