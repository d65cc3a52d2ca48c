import { createHash } from 'node:crypto';
import { FerryError, routes, type DeletedItem, type DeletedPage, type DeletedQuery, type HistoryItem, type HistoryPage, type HistoryQuery, type SyncKind } from '../protocol';
import { underBounds, type SqlDb } from './storage/sql';
import type { FeedTokens } from './tokens';

interface VersionRow {
  seq: number;
  kind: SyncKind;
  deleted: number;
  size: number;
  mtime: number;
  modified_at: number;
  device: string;
  moved_from?: string | null;
  restored_from?: number | null;
  moved_to?: string | null;
  /** The block hashes, JSON: the content fingerprint is read from them. */
  blocks?: string;
}

interface TombstoneRow {
  path: string;
  seq: number;
  kind: SyncKind;
  modified_at: number;
  device: string;
  moved_to: string | null;
}

/**
 * Where a move took the path of tombstone `t` (a versions row): the revision the same task wrote
 * that names it in moved_from, just before the tombstone (on versions_moved_from). NULL: a deletion.
 */
const MOVED_TO = (t: string) => `(SELECT m.path FROM versions m WHERE m.folder_id = ${t}.folder_id AND m.moved_from = ${t}.path
  AND m.task_id = ${t}.task_id AND m.seq < ${t}.seq ORDER BY m.seq DESC LIMIT 1)`;

/** Cursors of these listings start below this seq (the first page has no cursor). */
const TOP = Number.MAX_SAFE_INTEGER;

/**
 * The read side of history and restore (docs/sync-api.md, "History and restore"): the
 * revisions the server retains for a path, and the paths whose current entry is a deletion.
 * Both page newest first by seq, with signed cursors bound to the folder.
 */
export class HistoryReader {
  constructor(
    private readonly db: SqlDb,
    private readonly tokens: FeedTokens,
    private readonly clock: () => number,
  ) {}

  async history(folderId: string, query: HistoryQuery): Promise<HistoryPage> {
    if (query.revision !== undefined) return { items: [await this.version(folderId, query.path, query.revision)], _links: {} };
    const below = query.cursor ? this.tokens.verify('history', query.cursor, folderId).after : TOP;
    // A move's tombstone names where the path went.
    const rows = await this.db.all<VersionRow>(
      `SELECT v.seq, v.kind, v.deleted, v.size, v.mtime, v.modified_at, v.device, v.blocks, v.moved_from, v.restored_from,
         CASE WHEN v.deleted = 1 THEN ${MOVED_TO('v')} END AS moved_to
       FROM versions v WHERE v.folder_id = ? AND v.path = ? AND v.seq < ? ORDER BY v.seq DESC LIMIT ?`,
      [folderId, query.path, below, query.limit + 1],
    );
    const items = rows.slice(0, query.limit).map(historyItem);
    const next = rows.length > query.limit ? this.nextHref('history', folderId, items.at(-1)!.revision, { path: query.path, limit: query.limit }) : undefined;
    return { items, _links: next ? { next: { href: next } } : {} };
  }

  /**
   * One retained revision of the path with its block hashes (`revision=R`): what a client reads
   * a past version's bytes by. Another path's revision, or one no longer retained, is unknown.
   */
  private async version(folderId: string, path: string, revision: string): Promise<HistoryItem> {
    const unknown = () => new FerryError('unknown_revision', `Revision ${revision} of ${path} does not exist on the server (never, or no longer retained)`, { status: 404 });
    // A revision past what a seq can be names none (Number() would round it onto another).
    const seq = Number(revision);
    if (!Number.isSafeInteger(seq)) throw unknown();
    const row = await this.db.get<VersionRow & { blocks: string }>(
      `SELECT v.seq, v.kind, v.deleted, v.size, v.mtime, v.modified_at, v.device, v.blocks, v.moved_from, v.restored_from,
         CASE WHEN v.deleted = 1 THEN ${MOVED_TO('v')} END AS moved_to
       FROM versions v WHERE v.folder_id = ? AND v.path = ? AND v.seq = ?`,
      [folderId, path, seq],
    );
    if (!row) throw unknown();
    const blocks = row.deleted === 1 || row.kind === 'dir' ? [] : (JSON.parse(row.blocks) as string[]);
    return { ...historyItem(row), blocks };
  }

  async deleted(folderId: string, query: DeletedQuery): Promise<DeletedPage> {
    const below = query.cursor ? this.tokens.verify('deleted', query.cursor, folderId).after : TOP;
    const since = query.since ? Date.parse(query.since) : 0;
    const params: Array<string | number> = [folderId, below, since];
    // A move's tombstone is no deletion: the path lives on under its new name. Listed, its
    // restore made a duplicate; only `moved=true` (a restore "as it was", following renames) lists it.
    const movedTo = MOVED_TO('t');
    let where = `e.folder_id = ? AND e.deleted = 1 AND e.seq < ? AND e.modified_at >= ?`;
    if (query.prefix !== undefined) {
      where += ' AND (e.path = ? OR (e.path > ? AND e.path < ?))';
      params.push(query.prefix, ...underBounds(query.prefix));
    }
    const rows = await this.db.all<TombstoneRow>(
      `SELECT * FROM (SELECT e.path, e.seq, e.kind, e.modified_at, e.device, ${movedTo} AS moved_to
         FROM entries e JOIN versions t ON t.seq = e.seq WHERE ${where}) listed
       ${query.moved ? '' : 'WHERE moved_to IS NULL'} ORDER BY seq DESC LIMIT ?`,
      [...params, query.limit + 1],
    );
    const items: DeletedItem[] = [];
    for (const row of rows.slice(0, query.limit)) {
      // With it, whether a restore brought it back under another name that lives (a restore "as
      // it was" across a rename): like a move's tombstone, no deletion; restored here again, it
      // made a second copy.
      const live = await this.db.get<VersionRow & { restored_elsewhere: number | boolean }>(
        `SELECT l.seq, l.kind, l.deleted, l.size, l.mtime, l.modified_at, l.device, l.blocks,
           EXISTS (SELECT 1 FROM versions r JOIN entries c ON c.folder_id = r.folder_id AND c.path = r.path
             WHERE r.folder_id = l.folder_id AND r.restored_from = l.seq AND r.path <> l.path AND c.deleted = 0) AS restored_elsewhere
         FROM versions l WHERE l.folder_id = ? AND l.path = ? AND l.seq < ? AND l.deleted = 0 ORDER BY l.seq DESC LIMIT 1`,
        [folderId, row.path, row.seq],
      );
      if (!query.moved && live?.restored_elsewhere) continue;
      items.push({
        path: row.path,
        kind: row.kind,
        revision: String(row.seq),
        deletedAt: new Date(row.modified_at).toISOString(),
        device: row.device,
        ...(row.moved_to ? { movedTo: row.moved_to } : {}),
        lastLive: live ? historyItem(live) : null,
      });
    }
    const extra: Record<string, string | number> = { limit: query.limit };
    if (query.prefix !== undefined) extra.prefix = query.prefix;
    if (query.since !== undefined) extra.since = query.since;
    if (query.moved !== undefined) extra.moved = query.moved;
    // After the last row read, not the last item kept: a page may keep fewer than it read.
    const next = rows.length > query.limit ? this.nextHref('deleted', folderId, String(rows[query.limit - 1]!.seq), extra) : undefined;
    return { items, _links: next ? { next: { href: next } } : {} };
  }

  private nextHref(kind: 'history' | 'deleted', folderId: string, lastRevision: string, params: Record<string, string | number>): string {
    const cursor = this.tokens.issue(kind, { folderId, after: Number(lastRevision), since: 0, issuedAt: this.clock() });
    const search = new URLSearchParams({ ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])), cursor });
    return `${kind === 'history' ? routes.history(folderId) : routes.deleted(folderId)}?${search.toString()}`;
  }
}

function historyItem(row: VersionRow): HistoryItem {
  return {
    revision: String(row.seq),
    kind: row.kind,
    deleted: row.deleted === 1,
    size: row.size,
    mtime: row.mtime,
    modificationDate: new Date(row.modified_at).toISOString(),
    device: row.device,
    ...(row.moved_from ? { movedFrom: row.moved_from } : {}),
    ...(row.moved_to ? { movedTo: row.moved_to } : {}),
    ...(row.restored_from != null ? { restoredFrom: String(row.restored_from) } : {}),
    ...(row.deleted !== 1 && row.kind !== 'dir' && row.blocks !== undefined ? { contentHash: contentHashOf(JSON.parse(row.blocks) as string[]) } : {}),
  };
}

/** SHA-256 over the block hashes in order: main/engine/hashing.ts's contentHashOf, the client's content hash. */
function contentHashOf(blocks: readonly string[]): string {
  const h = createHash('sha256');
  for (const b of blocks) h.update(b);
  return h.digest('hex');
}
