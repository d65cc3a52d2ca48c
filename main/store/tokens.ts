import type { Clock } from './clock';
import { systemClock } from './clock';
import type { Db } from './db';

/** The changes-feed token per folder; stored only after every page was applied. */
export interface TokenRepo {
  get(folderId: string): string | undefined;
  set(folderId: string, token: string): void;
  /** After 410 sync_token_expired: the next pull is a full sync. */
  clear(folderId: string): void;
}

export function tokenRepo(db: Db, clock: Clock = systemClock): TokenRepo {
  const read = db.prepare<[string], { token: string }>(`SELECT token FROM sync_tokens WHERE folder_id = ?`);
  const write = db.prepare(`
    INSERT INTO sync_tokens (folder_id, token, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (folder_id) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at`);
  const del = db.prepare(`DELETE FROM sync_tokens WHERE folder_id = ?`);
  return {
    get: (folderId) => read.get(folderId)?.token,
    set: (folderId, token) => void write.run(folderId, token, clock()),
    clear: (folderId) => void del.run(folderId),
  };
}
