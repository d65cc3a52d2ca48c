import Database from 'better-sqlite3';
import type { Db } from './db';

/**
 * One setting read from a state database without opening it for writing or migrating it (a
 * command that runs before the agent does); undefined when there is no database or no value.
 */
export function readStoredSetting(file: string, key: string): string | undefined {
  let db: Db | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    return db.prepare<[string], { value: string }>(`SELECT value FROM settings WHERE key = ?`).get(key)?.value;
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

/** Device-wide key/value settings (device id, preferences). Values are strings. */
export interface SettingsRepo {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  delete(key: string): void;
}

export function settingsRepo(db: Db): SettingsRepo {
  const read = db.prepare<[string], { value: string }>(`SELECT value FROM settings WHERE key = ?`);
  const write = db.prepare(
    `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  );
  const del = db.prepare(`DELETE FROM settings WHERE key = ?`);
  return {
    get: (key) => read.get(key)?.value,
    set: (key, value) => void write.run(key, value),
    delete: (key) => void del.run(key),
  };
}
