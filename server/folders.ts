import type { Folder } from '../protocol';
import type { SqlDb } from './storage/sql';

export interface FolderRow {
  id: string;
  label: string | null;
  created_at: number;
  prune_horizon: number;
}

export class FolderStore {
  constructor(
    private readonly db: SqlDb,
    private readonly clock: () => number,
  ) {}

  get(id: string): Promise<FolderRow | undefined> {
    return this.db.get<FolderRow>('SELECT id, label, created_at, prune_horizon FROM folders WHERE id = ?', [id]);
  }

  /** Creates the folder unless it exists; an existing folder is returned unchanged. */
  async create(id: string, label: string | null): Promise<{ folder: Folder; created: boolean }> {
    const changes = await this.db.run('INSERT INTO folders (id, label, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [id, label, this.clock()]);
    const row = (await this.get(id)) as FolderRow;
    return { folder: toWire(row), created: changes === 1 };
  }

  async list(): Promise<Folder[]> {
    return (await this.db.all<FolderRow>('SELECT id, label, created_at, prune_horizon FROM folders ORDER BY id')).map(toWire);
  }
}

export function toWire(row: FolderRow): Folder {
  return { id: row.id, label: row.label, createdAt: new Date(row.created_at).toISOString() };
}

/**
 * Whether the folder is there, read inside a transaction so that `ferry server folder remove`
 * cannot remove it before that transaction commits: on PostgreSQL the row is locked (`share`: a
 * write that only needs the folder to stay; `update`: a batch's commit, the removal itself, one
 * after the other); SQLite's transactions take the write lock at their start already.
 */
export async function folderHeld(db: SqlDb, folderId: string, mode: 'share' | 'update'): Promise<boolean> {
  const lock = db.dialect === 'postgres' ? (mode === 'share' ? ' FOR SHARE' : ' FOR UPDATE') : '';
  return (await db.get(`SELECT id FROM folders WHERE id = ?${lock}`, [folderId])) !== undefined;
}
