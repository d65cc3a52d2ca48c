import type { Folder } from '../protocol';
import type { Db } from './storage/db';

interface FolderRow {
  id: string;
  label: string | null;
  created_at: number;
  prune_horizon: number;
}

export class FolderStore {
  constructor(
    private readonly db: Db,
    private readonly clock: () => number,
  ) {}

  get(id: string): FolderRow | undefined {
    return this.db.prepare<[string], FolderRow>('SELECT * FROM folders WHERE id = ?').get(id);
  }

  /** Creates the folder unless it exists; an existing folder is returned unchanged. */
  create(id: string, label: string | null): { folder: Folder; created: boolean } {
    const info = this.db.prepare('INSERT OR IGNORE INTO folders (id, label, created_at) VALUES (?, ?, ?)').run(id, label, this.clock());
    const row = this.get(id) as FolderRow;
    return { folder: toWire(row), created: info.changes === 1 };
  }

  list(): Folder[] {
    return this.db.prepare<[], FolderRow>('SELECT * FROM folders ORDER BY id').all().map(toWire);
  }

  horizon(id: string): number {
    return this.get(id)?.prune_horizon ?? 0;
  }
}

export function toWire(row: FolderRow): Folder {
  return { id: row.id, label: row.label, createdAt: new Date(row.created_at).toISOString() };
}
