import Database from 'better-sqlite3';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFerryError } from '../../protocol/errors';
import { migrate, openDb, schemaVersion } from '../../main/store/db';
import { MIGRATIONS, type Migration } from '../../main/store/migrations';
import { ignoredRemoteRepo } from '../../main/store/ignored-remote';
import { taskRepo } from '../../main/store/tasks';
import { undoBatchRepo } from '../../main/store/undo-batches';
import { makeTempDir } from '../helpers/local-temp';

const tables = (db: Database.Database) =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map(
    (r) => r.name,
  );
const columns = (db: Database.Database, table: string) =>
  (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);

describe('state database migrations', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let file: string;
  beforeEach(() => {
    tmp = makeTempDir();
    file = path.join(tmp.dir, 'state.db');
  });
  afterEach(() => tmp.cleanup());

  it('lists migrations in order, numbered from 1', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it('refuses a list out of order', () => {
    expect(() => openDb(file, { migrations: [MIGRATIONS[1]!, MIGRATIONS[0]!] })).toThrow(/migration #0 has version 2/);
    expect(() => openDb(file, { migrations: [MIGRATIONS[0]!, MIGRATIONS[2]!, MIGRATIONS[1]!] })).toThrow(/migration #1 has version 3, expected 2/);
  });

  it('migration 1 creates folders, settings, file_index and queue', () => {
    const db = openDb(file, { migrations: MIGRATIONS.slice(0, 1) });
    expect(schemaVersion(db)).toBe(1);
    expect(tables(db)).toEqual(expect.arrayContaining(['folders', 'settings', 'file_index', 'queue']));
    expect(tables(db)).not.toContain('activity');
    expect(columns(db, 'file_index')).toEqual(
      expect.arrayContaining(['path', 'kind', 'size', 'mtime_ms', 'inode', 'blocks', 'content_hash', 'synced_revision']),
    );
    expect(columns(db, 'queue')).toEqual(
      expect.arrayContaining(['op', 'state', 'attempts', 'next_attempt_at', 'last_error_code', 'bytes_done', 'bytes_total', 'generation', 'in_flight_generation', 'base_revision']),
    );
    db.prepare(`INSERT INTO folders (id, local_root, remote_id, created_at, updated_at) VALUES ('f', '/r', 'rf', 0, 0)`).run();
    const insert = db.prepare(
      `INSERT INTO queue (folder_id, path, kind, op, state, priority, next_attempt_at, enqueued_at, updated_at) VALUES ('f', 'a', 'file', 'upsert', 'pending', 1, 0, 0, 0)`,
    );
    insert.run();
    expect(() => insert.run()).toThrow(/UNIQUE/);
    db.close();
  });

  it('migration 2 adds tasks, tokens, conflicts and activity, keeping existing rows', () => {
    const v1 = openDb(file, { migrations: MIGRATIONS.slice(0, 1) });
    v1.prepare(`INSERT INTO folders (id, local_root, remote_id, created_at, updated_at) VALUES ('f', '/r', 'rf', 0, 0)`).run();
    v1.close();
    const db = openDb(file, { migrations: MIGRATIONS.slice(0, 2) });
    expect(schemaVersion(db)).toBe(2);
    expect(tables(db)).toEqual(
      expect.arrayContaining(['async_tasks', 'async_task_items', 'sync_tokens', 'conflicts', 'activity']),
    );
    expect(db.prepare(`SELECT id FROM folders`).all()).toEqual([{ id: 'f' }]);
    db.close();
  });

  it('migration 3 adds the queue\'s pulled_during, keeping queued items', () => {
    const v2 = openDb(file, { migrations: MIGRATIONS.slice(0, 2) });
    v2.prepare(`INSERT INTO folders (id, local_root, remote_id, created_at, updated_at) VALUES ('f', '/r', 'rf', 0, 0)`).run();
    v2.prepare(
      `INSERT INTO queue (folder_id, path, kind, op, state, priority, generation, next_attempt_at, enqueued_at, updated_at)
       VALUES ('f', 'a.txt', 'file', 'upsert', 'pending', 0, 1, 0, 0, 0)`,
    ).run();
    v2.close();
    const db = openDb(file, { migrations: MIGRATIONS.slice(0, 3) });
    expect(schemaVersion(db)).toBe(3);
    expect(db.prepare(`SELECT path, pulled_during FROM queue`).all()).toEqual([{ path: 'a.txt', pulled_during: null }]);
    db.close();
  });

  it('migration 4 stores a mass-delete pause with its side and counts, and the recent local deletes; a pause from before gets its side', () => {
    const v3 = openDb(file, { migrations: MIGRATIONS.slice(0, 3) });
    const folder = v3.prepare(
      `INSERT INTO folders (id, local_root, remote_id, state, paused_reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, 0)`,
    );
    folder.run('scan-held', '/a', 'a', 'paused_mass_delete', 'disappeared');
    folder.run('pull-held', '/b', 'b', 'paused_mass_delete', 'server deletes');
    folder.run('fine', '/c', 'c', 'ok', null);
    v3.prepare(
      `INSERT INTO queue (folder_id, path, kind, op, state, priority, generation, next_attempt_at, enqueued_at, updated_at)
       VALUES ('scan-held', 'x.txt', 'file', 'delete', 'pending', 2000, 1, 0, 0, 0)`,
    ).run();
    v3.close();

    const db = openDb(file, { migrations: MIGRATIONS.slice(0, 4) });
    expect(schemaVersion(db)).toBe(4);
    expect(columns(db, 'folders')).toEqual(expect.arrayContaining(['paused_side', 'paused_deletes', 'paused_files']));
    expect(columns(db, 'recent_deletes')).toEqual(
      expect.arrayContaining(['folder_id', 'path', 'kind', 'revision', 'size', 'mtime_ms', 'blocks', 'deleted_at']),
    );
    expect(db.prepare(`SELECT id, state, paused_side, paused_reason FROM folders ORDER BY id`).all()).toEqual([
      { id: 'fine', state: 'ok', paused_side: null, paused_reason: null },
      { id: 'pull-held', state: 'paused_mass_delete', paused_side: 'pull', paused_reason: 'server deletes' },
      { id: 'scan-held', state: 'paused_mass_delete', paused_side: 'scan', paused_reason: 'disappeared' },
    ]);
    expect(() => db.prepare(`UPDATE folders SET paused_side = 'sideways' WHERE id = 'fine'`).run()).toThrow(/CHECK/);
    // A removed folder takes its recent deletes with it.
    db.prepare(`INSERT INTO recent_deletes (folder_id, path, kind, deleted_at) VALUES ('fine', 'gone.txt', 'file', 1)`).run();
    db.prepare(`DELETE FROM folders WHERE id = 'fine'`).run();
    expect(db.prepare(`SELECT count(*) AS n FROM recent_deletes`).get()).toEqual({ n: 0 });
    db.close();
  });

  it('migration 5 adds download intents (chaos seed 86), keeping the index', () => {
    const v3 = openDb(file, { migrations: MIGRATIONS.slice(0, 3) });
    v3.prepare(`INSERT INTO folders (id, local_root, remote_id, created_at, updated_at) VALUES ('f', '/r', 'rf', 0, 0)`).run();
    v3.prepare(`INSERT INTO file_index (folder_id, path, kind, updated_at) VALUES ('f', 'a.txt', 'file', 0)`).run();
    v3.close();
    const db = openDb(file, { migrations: MIGRATIONS.filter((m) => m.version <= 5) });
    expect(schemaVersion(db)).toBe(5);
    expect(columns(db, 'download_intents')).toEqual(expect.arrayContaining(['folder_id', 'path', 'revision', 'size', 'content_hash', 'blocks']));
    expect(db.prepare(`SELECT path FROM file_index`).all()).toEqual([{ path: 'a.txt' }]);
    db.close();
  });

  it('migration 7 adds a queued move (move_from, move_hash) and the index by inode, keeping queued items', () => {
    const v6 = openDb(file, { migrations: MIGRATIONS.slice(0, 6) });
    v6.prepare(`INSERT INTO folders (id, local_root, remote_id, created_at, updated_at) VALUES ('f', '/r', 'rf', 0, 0)`).run();
    v6.prepare(`INSERT INTO queue (folder_id, path, kind, op, state, priority, next_attempt_at, enqueued_at, updated_at) VALUES ('f', 'a', 'file', 'upsert', 'pending', 1, 0, 0, 0)`).run();
    v6.close();
    const db = openDb(file, { migrations: MIGRATIONS.slice(0, 7) });
    expect(schemaVersion(db)).toBe(7);
    expect(columns(db, 'queue')).toEqual(expect.arrayContaining(['move_from', 'move_hash']));
    expect(db.prepare(`SELECT path, move_from FROM queue`).all()).toEqual([{ path: 'a', move_from: null }]);
    const indexes = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index'`).all() as { name: string }[]).map((r) => r.name);
    expect(indexes).toEqual(expect.arrayContaining(['file_index_by_inode', 'queue_live_moves']));
      db.close();
    });

  it('migration 8 adds undo batches, one per folder, dropped with their folder; a batch past its time is not offered', () => {
    const v7 = openDb(file, { migrations: MIGRATIONS.filter((m) => m.version <= 7) });
    v7.prepare(`INSERT INTO folders (id, local_root, remote_id, created_at, updated_at) VALUES ('f', '/r', 'rf', 0, 0)`).run();
    v7.close();
    openDb(file, { migrations: MIGRATIONS.filter((m) => m.version <= 8) }).close();
    // The repository reads the latest schema (migration 16 adds the devices).
    const db = openDb(file);
    let now = 1000;
    const repo = undoBatchRepo(db, () => now);
    repo.record({ folderId: 'f', side: 'scan', paths: ['b.txt', 'a.txt'], keepMs: 500 });
    repo.record({ folderId: 'f', side: 'pull', paths: ['c.txt'], keepMs: 500 });
    // The latest confirm replaces the earlier batch.
    expect(repo.get('f')).toEqual({ folderId: 'f', side: 'pull', paths: ['c.txt'], devices: [], confirmedAt: 1000, expiresAt: 1500 });
    now = 1500;
    expect(repo.get('f')).toBeNull();
    now = 1000;
    db.prepare(`DELETE FROM folders WHERE id = 'f'`).run();
    expect(repo.get('f')).toBeNull();
    // A side other than scan or pull is refused by the schema.
    expect(() => db.prepare(`INSERT INTO undo_batches (folder_id, side, paths, confirmed_at, expires_at) VALUES ('f', 'other', '[]', 0, 1)`).run()).toThrow();
    db.close();
  });

  it('migration 16 keeps the devices of a confirmed pull-side batch; a batch from before names none', () => {
    const v15 = openDb(file, { migrations: MIGRATIONS.filter((m) => m.version <= 15) });
    v15.prepare(`INSERT INTO folders (id, local_root, remote_id, created_at, updated_at) VALUES ('f', '/r', 'rf', 0, 0), ('g', '/s', 'rg', 0, 0)`).run();
    v15.prepare(`INSERT INTO undo_batches (folder_id, side, paths, confirmed_at, expires_at) VALUES ('f', 'pull', '["a.txt"]', 0, 9000)`).run();
    v15.close();
    const db = openDb(file, { migrations: MIGRATIONS.filter((m) => m.version <= 16) });
    expect(schemaVersion(db)).toBe(16);
    const repo = undoBatchRepo(db, () => 1000);
    expect(repo.get('f')?.devices).toEqual([]);
    repo.record({ folderId: 'g', side: 'pull', paths: ['b.txt'], devices: ['laptop-id', 'phone-id'], keepMs: 500 });
    expect(repo.get('g')).toMatchObject({ side: 'pull', paths: ['b.txt'], devices: ['laptop-id', 'phone-id'] });
    db.close();
  });

  it('migration 15 keeps the operations of a batch recorded before it is sent; a task from before names none', () => {
    const v14 = openDb(file, { migrations: MIGRATIONS.filter((m) => m.version <= 14) });
    v14.prepare(`INSERT INTO folders (id, local_root, remote_id, created_at, updated_at) VALUES ('f', '/r', 'rf', 0, 0)`).run();
    v14.prepare(`INSERT INTO async_tasks (task_id, folder_id, tracking_id, created_at) VALUES ('old', 'f', 'tr-old', 0)`).run();
    v14.close();
    const db = openDb(file, { migrations: MIGRATIONS.filter((m) => m.version <= 15) });
    expect(schemaVersion(db)).toBe(15);
    const tasks = taskRepo(db);
    expect(tasks.get('old')).toEqual({ taskId: 'old', folderId: 'f', trackingId: 'tr-old', createdAt: 0, items: [] });
    const operations = [{ key: '1.1.u', action: 'upsert' as const, path: 'a.txt', size: 1, mtime: 2, blocks: ['h'], baseRevision: null }];
    const items = [{ opKey: '1.1.u', queueId: 1, generation: 1, path: 'a.txt' }];
    tasks.add({ taskId: 'unanswered:tr', folderId: 'f', trackingId: 'tr', items, operations });
    expect(tasks.get('unanswered:tr')).toMatchObject({ trackingId: 'tr', items, operations });
    // The server names the task: one transaction swaps the records.
    tasks.replace('unanswered:tr', { taskId: 'task-1', folderId: 'f', trackingId: 'tr', items, operations });
    expect(tasks.list().map((t) => t.taskId)).toEqual(['old', 'task-1']);
    expect(tasks.holds(1, 1)).toBe(true);
    db.close();
  });

  // By review: a folder whose settings rule kept a server folder out read "everything in sync"
  // (docs/conflict-rules.md, "Ignored paths"). Nothing was recorded before: the tokens go, so the
  // next pull of each folder lists it whole and records what it leaves.
  it('migration 20 records the paths the server has that a rule keeps from here, and drops the sync tokens once', () => {
    const v19 = openDb(file, { migrations: MIGRATIONS.filter((m) => m.version <= 19) });
    v19.prepare(`INSERT INTO folders (id, local_root, remote_id, created_at, updated_at) VALUES ('f', '/r', 'rf', 0, 0), ('g', '/s', 'rg', 0, 0)`).run();
    v19.prepare(`INSERT INTO sync_tokens (folder_id, token, updated_at) VALUES ('f', 'tok-f', 0), ('g', 'tok-g', 0)`).run();
    v19.close();
    const db = openDb(file, { migrations: MIGRATIONS.filter((m) => m.version <= 20) });
    expect(schemaVersion(db)).toBe(20);
    expect(db.prepare(`SELECT count(*) AS n FROM sync_tokens`).get()).toEqual({ n: 0 });
    const repo = ignoredRemoteRepo(db);
    repo.replace('f', ['big', 'big/a.bin', 'big/b.bin']);
    repo.replace('g', ['x.log']);
    expect(repo.count('f')).toBe(3);
    // An incremental pull: a new ignored path recorded, one deleted there (or no longer ignored) forgotten.
    repo.update('f', [{ path: 'big/c.bin', ignored: true }, { path: 'big/a.bin', ignored: false }, { path: 'other.txt', ignored: false }]);
    expect(repo.list('f')).toEqual(['big', 'big/b.bin', 'big/c.bin']);
    // A full listing records afresh; other folders untouched.
    repo.replace('f', ['big/c.bin']);
    expect(repo.list('f')).toEqual(['big/c.bin']);
    expect(repo.list('g')).toEqual(['x.log']);
    db.prepare(`DELETE FROM folders WHERE id = 'f'`).run();
    expect(repo.count('f')).toBe(0);
    db.close();
  });

  it('opens in WAL mode with foreign keys on', () => {
    const db = openDb(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(schemaVersion(db)).toBe(MIGRATIONS.at(-1)!.version);
    db.close();
  });

  it('refuses a database from a newer Ferry with a clear error and leaves it untouched', () => {
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    let caught: unknown;
    try {
      openDb(file);
    } catch (error) {
      caught = error;
    }
    expect(isFerryError(caught) && caught.code).toBe('store_newer_version');
    expect(String((caught as Error).message)).toMatch(/version 99.*newer/);
    const again = new Database(file);
    expect(again.pragma('user_version', { simple: true })).toBe(99);
    again.close();
  });

  it('applies pending migrations in one transaction: a failure leaves the old version', () => {
    const broken: Migration = {
      version: MIGRATIONS.at(-1)!.version + 1,
      name: 'broken',
      up(db) {
        db.exec(`CREATE TABLE half_done (x INTEGER)`);
        throw new Error('boom');
      },
    };
    const db = new Database(file);
    expect(() => migrate(db, [...MIGRATIONS, broken])).toThrow('boom');
    // Nothing of any migration stuck, not only the broken one.
    expect(schemaVersion(db)).toBe(0);
    expect(tables(db)).toEqual([]);
    expect(migrate(db).to).toBe(MIGRATIONS.at(-1)!.version);
    db.close();
  });

  it('is a no-op on an up-to-date database', () => {
    openDb(file).close();
    const db = openDb(file);
    const latest = MIGRATIONS.at(-1)!.version;
    expect(migrate(db)).toEqual({ from: latest, to: latest });
    db.close();
  });
});
