import { setMaxListeners } from 'node:events';
import { FerryError, routes, type ChangeItem, type ChangesPage, type ChangesQuery, type SyncKind } from '../protocol';
import type { FolderStore } from './folders';
import type { SqlDb } from './storage/sql';
import type { FeedPosition, FeedTokens } from './tokens';

interface EntryRow {
  path: string;
  seq: number;
  kind: SyncKind;
  deleted: number;
  size: number;
  mtime: number;
  blocks: string;
  modified_at: number;
  device: string;
  moved_from: string | null;
  restored_from: number | null;
}

export interface ChangesFeedOptions {
  db: SqlDb;
  folders: FolderStore;
  tokens: FeedTokens;
  clock: () => number;
  tokenTtlMs: number;
}

/**
 * The changes feed. Every write takes a new global seq, so paging by seq never skips a
 * change: a path changed between pages moves behind the cursor and reappears later.
 * Tombstones live for tokenTtlMs; a token older than that, or older than a pruned
 * tombstone (the folder's horizon), is expired.
 */
export class ChangesFeed {
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Aborted when the process stops: every long poll answers "no changes" at once. */
  private readonly stopping = new AbortController();

  constructor(private readonly o: ChangesFeedOptions) {
    // One listener per long poll waiting: thousands of agents, not a leak.
    setMaxListeners(0, this.stopping.signal);
  }

  async page(folderId: string, query: ChangesQuery): Promise<ChangesPage> {
    const { tokens, clock } = this.o;
    let pos: FeedPosition;
    if (query.cursor) pos = await this.fresh(tokens.verify('cursor', query.cursor, folderId));
    else if (query.syncToken) pos = await this.fresh(tokens.verify('token', query.syncToken, folderId));
    else pos = { folderId, after: 0, since: await this.latestSeq(folderId), issuedAt: clock() };

    const rows = await this.o.db.all<EntryRow>(
      `SELECT path, seq, kind, deleted, size, mtime, blocks, modified_at, device, moved_from, restored_from FROM entries
       WHERE folder_id = ? AND seq > ? AND (deleted = 0 OR seq > ?) ORDER BY seq LIMIT ?`,
      [folderId, pos.after, pos.since, query.limit + 1],
    );
    const more = rows.length > query.limit;
    const items = rows.slice(0, query.limit).map(toItem);
    const lastSeq = Number(items.at(-1)?.revision ?? 0);
    const base = routes.changes(folderId);
    if (more) {
      const cursor = tokens.issue('cursor', { ...pos, after: lastSeq });
      return { items, _links: { next: { href: `${base}?syncModifications=true&cursor=${cursor}&limit=${query.limit}` } } };
    }
    // Nothing visible lies between the last item and `since`, so the token may start at the larger.
    const seq = Math.max(pos.after, pos.since, lastSeq);
    const token = tokens.issue('token', { folderId, after: seq, since: seq, issuedAt: clock() });
    return { items, _links: { 'upcoming-modifications': { href: `${base}?syncModifications=true&syncToken=${token}` } } };
  }

  /** Resolves true as soon as the folder has changes after the token, false at the timeout. */
  async wait(folderId: string, syncToken: string, timeoutSeconds: number, signal: AbortSignal): Promise<boolean> {
    const pos = await this.fresh(this.o.tokens.verify('token', syncToken, folderId));
    const stale = async (): Promise<boolean> => (await this.latestSeq(folderId)) > pos.after;
    if (timeoutSeconds === 0 || signal.aborted || this.stopping.signal.aborted) return stale();
    // Subscribed first, then read: a commit landing between the read and the subscription
    // would otherwise wake nobody (with several processes its wake-up comes by NOTIFY).
    return new Promise((resolve) => {
      const set = this.waiters.get(folderId) ?? new Set();
      this.waiters.set(folderId, set);
      const done = (value: boolean): void => {
        clearTimeout(timer);
        set.delete(check);
        signal.removeEventListener('abort', onAbort);
        this.stopping.signal.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const check = (): void => {
        stale().then(
          (yes) => {
            if (yes) done(true);
          },
          () => undefined,
        );
      };
      const onAbort = (): void => done(false);
      const timer = setTimeout(() => done(false), timeoutSeconds * 1000);
      set.add(check);
      signal.addEventListener('abort', onAbort, { once: true });
      this.stopping.signal.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }

  /**
   * The process stops: each long poll answers "no changes" now, and its client polls again
   * (another process, or this one refused: offline), instead of holding the shutdown for its
   * whole grace period (5 s) while nothing is being done.
   */
  release(): void {
    this.stopping.abort();
  }

  notify(folderId: string): void {
    for (const check of [...(this.waiters.get(folderId) ?? [])]) check();
  }

  /** Every waiter re-reads (the wake-up channel reconnected: a notification may have been missed). */
  notifyAll(): void {
    for (const folderId of this.waiters.keys()) this.notify(folderId);
  }

  /** Long polls waiting now (the /metrics gauge). */
  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  async latestSeq(folderId: string): Promise<number> {
    const row = await this.o.db.get<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM entries WHERE folder_id = ?', [folderId]);
    return row?.seq ?? 0;
  }

  /**
   * Drops tombstones and superseded versions older than `retainMs` (the retention period,
   * by default the token lifetime), moving each folder's horizon: a token older than a pruned
   * tombstone is expired, whatever its age.
   */
  prune(retainMs = this.o.tokenTtlMs): Promise<{ tombstones: number; versions: number }> {
    const cutoff = this.o.clock() - retainMs;
    const { db } = this.o;
    return db.tx(async () => {
      const horizons = await db.all<{ folder_id: string; seq: number }>('SELECT folder_id, MAX(seq) AS seq FROM entries WHERE deleted = 1 AND modified_at < ? GROUP BY folder_id', [cutoff]);
      for (const h of horizons) await db.run('UPDATE folders SET prune_horizon = ? WHERE id = ? AND prune_horizon < ?', [h.seq, h.folder_id, h.seq]);
      const tombstones = await db.run('DELETE FROM entries WHERE deleted = 1 AND modified_at < ?', [cutoff]);
      const versions = await db.run('DELETE FROM versions WHERE modified_at < ? AND seq NOT IN (SELECT seq FROM entries)', [cutoff]);
      return { tombstones, versions };
    });
  }

  private async fresh(pos: FeedPosition): Promise<FeedPosition> {
    const expired = (why: string) => new FerryError('sync_token_expired', `Sync token expired (${why}); run a full sync`, { status: 410 });
    if (this.o.clock() - pos.issuedAt > this.o.tokenTtlMs) throw expired('older than the token lifetime');
    const folder = await this.o.folders.get(pos.folderId);
    if (Number(folder?.prune_horizon ?? 0) > pos.since) throw expired('deletions it would need were pruned');
    // Issued for an earlier folder of this id, removed since (`ferry server folder remove`): what
    // it knew is of that folder, and the new one's horizon starts afresh (found by review).
    if (folder && pos.issuedAt < Number(folder.created_at)) throw expired('issued before this folder was made');
    return pos;
  }
}

function toItem(row: EntryRow): ChangeItem {
  return {
    path: row.path,
    kind: row.kind,
    revision: String(row.seq),
    deleted: row.deleted === 1,
    size: row.size,
    mtime: row.mtime,
    blocks: JSON.parse(row.blocks) as string[],
    modificationDate: new Date(row.modified_at).toISOString(),
    device: row.device,
    // The new entry of a move (docs/sync-api.md, "Moves").
    ...(row.moved_from !== null ? { movedFrom: row.moved_from } : {}),
    // A restore's revision (docs/sync-api.md, "History and restore"): never an upload's answer.
    ...(row.restored_from !== null ? { restoredFrom: String(row.restored_from) } : {}),
  };
}
