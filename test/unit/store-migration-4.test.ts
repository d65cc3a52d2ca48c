import type Database from 'better-sqlite3';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb, schemaVersion } from '../../main/store/db';
import { MIGRATIONS } from '../../main/store/migrations';
import { makeTempDir } from '../helpers/local-temp';

const columns = (db: Database.Database, table: string) =>
  (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);

describe('state database migration 4', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let file: string;
  beforeEach(() => {
    tmp = makeTempDir();
    file = path.join(tmp.dir, 'state.db');
  });
  afterEach(() => tmp.cleanup());

  it('stores a mass-delete pause with its side and counts, and the recent local deletes; a pause from before gets its side', () => {
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
});
