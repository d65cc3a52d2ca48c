import { MAX_WANTED_BLOCKS } from '../protocol';
import type { BlockStore } from './storage/blocks';
import type { SqlDb } from './storage/sql';

/** How long a lost block found still missing is not looked up again. */
export const LOOK_AGAIN_MS = 30_000;

/** A lost block and the files whose newest version needs it (for the operator: what to restore). */
export interface LostBlockListing {
  hash: string;
  noticedAt: number;
  files: Array<{ folderId: string; path: string; revision: string }>;
}

/**
 * Every block recorded as lost, oldest noticed first, with the live files that refer to it (a
 * block only earlier versions refer to lists none). As the server last found them: one a device
 * uploaded again is forgotten at the next report on its folder.
 */
export async function listLostBlocks(db: SqlDb): Promise<LostBlockListing[]> {
  const lost = await db.all<{ hash: string; noticed_at: number }>('SELECT hash, noticed_at FROM lost_blocks ORDER BY noticed_at, hash');
  const listing: LostBlockListing[] = [];
  for (const { hash, noticed_at } of lost) {
    // The block's folders first (an index), then their live entries naming it (hashes are hex: no LIKE wildcards).
    const files = await db.all<{ folder_id: string; path: string; seq: number | string }>(
      `SELECT e.folder_id, e.path, e.seq FROM folder_blocks b JOIN entries e ON e.folder_id = b.folder_id
       WHERE b.hash = ? AND e.deleted = 0 AND e.blocks LIKE ? ORDER BY e.folder_id, e.path`,
      [hash, `%"${hash}"%`],
    );
    listing.push({ hash, noticedAt: Number(noticed_at), files: files.map((f) => ({ folderId: f.folder_id, path: f.path, revision: String(f.seq) })) });
  }
  return listing;
}

/**
 * Blocks a stored version refers to whose bytes the server no longer has (a disk fault, a pack
 * or bucket object removed by hand): docs/sync-api.md, "Lost blocks". A read that finds one
 * gone records it here; a device reporting on a folder that refers to it is asked, in the
 * reply, to upload it again, which any device holding the same bytes can (blocks are named by
 * their hash). Nothing is recorded for a hash no folder ever referred to.
 */
export class LostBlocks {
  /** hash → when `wanted` last asked the store for it: a busy device reports every second. */
  private readonly looked = new Map<string, number>();

  constructor(
    private readonly db: SqlDb,
    private readonly blocks: Pick<BlockStore, 'sizes'>,
    private readonly clock: () => number,
  ) {}

  /** A read found these blocks gone. */
  async notice(hashes: Iterable<string>): Promise<void> {
    for (const hash of new Set(hashes)) {
      await this.db.run(
        'INSERT INTO lost_blocks (hash, noticed_at) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM folder_blocks WHERE hash = ?) ON CONFLICT DO NOTHING',
        [hash, this.clock(), hash],
      );
    }
  }

  /**
   * The lost blocks `folderId` refers to, oldest noticed first. A block stored again since (a
   * device uploaded it) is no longer lost: it is forgotten here, so an upload clears it without
   * every upload having to look.
   */
  async wanted(folderId: string): Promise<string[]> {
    const rows = await this.db.all<{ hash: string }>(
      `SELECT l.hash FROM lost_blocks l WHERE EXISTS (SELECT 1 FROM folder_blocks b WHERE b.hash = l.hash AND b.folder_id = ?)
       ORDER BY l.noticed_at, l.hash LIMIT ?`,
      [folderId, MAX_WANTED_BLOCKS],
    );
    if (rows.length === 0) return [];
    // Each is looked up in the store at most every LOOK_AGAIN_MS (a bucket answers each with a
    // request); one stored again meanwhile is asked for once more, and its upload is a no-op.
    const now = this.clock();
    for (const [hash, at] of this.looked) if (at + LOOK_AGAIN_MS <= now) this.looked.delete(hash);
    const due = rows.map((r) => r.hash).filter((h) => !this.looked.has(h));
    for (const hash of due) this.looked.set(hash, now);
    const present = await this.blocks.sizes(due);
    for (const hash of present.keys()) await this.db.run('DELETE FROM lost_blocks WHERE hash = ?', [hash]);
    return rows.map((r) => r.hash).filter((h) => !present.has(h));
  }

  /** Garbage collection found no retained version referring to these any more: nobody needs them back. */
  async forgetUnless(keep: (hash: string) => boolean): Promise<number> {
    const rows = await this.db.all<{ hash: string }>('SELECT hash FROM lost_blocks');
    let forgotten = 0;
    for (const { hash } of rows) if (!keep(hash)) forgotten += await this.db.run('DELETE FROM lost_blocks WHERE hash = ?', [hash]);
    return forgotten;
  }
}
