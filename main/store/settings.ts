import type { Db } from './db';

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
