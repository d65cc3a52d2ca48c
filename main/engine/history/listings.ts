import type { ChangesPage, DeletedItem, DeletedPage, HistoryItem, HistoryPage } from '../../../protocol';

/** The reads history and restore need (main/remote's SyncApiClient). */
export interface HistoryRemote {
  historyPage(folderId: string, query: { path: string; next?: string; limit?: number }): Promise<HistoryPage>;
  deletedPage(folderId: string, query: DeletedFilter & { next?: string; limit?: number }): Promise<DeletedPage>;
  changesPage(folderId: string, query: { next?: string; limit?: number }): Promise<ChangesPage>;
}

/** Every retained revision of one path, newest first (all pages). */
export async function readHistory(remote: HistoryRemote, remoteId: string, path: string): Promise<HistoryItem[]> {
  const items: HistoryItem[] = [];
  let next: string | undefined;
  do {
    const page = await remote.historyPage(remoteId, { path, ...(next ? { next } : {}) });
    items.push(...page.items);
    next = page._links.next?.href;
  } while (next);
  return items;
}

export interface DeletedFilter {
  prefix?: string;
  since?: string;
  /** The paths moves took away too, each with `movedTo` (docs/sync-api.md, "History and restore"). */
  moved?: boolean;
}

/** Every path whose current entry is a deletion (optionally under a prefix, since a moment), newest first. */
export async function readDeleted(remote: HistoryRemote, remoteId: string, filter: DeletedFilter, max = Number.POSITIVE_INFINITY): Promise<DeletedItem[]> {
  const items: DeletedItem[] = [];
  let next: string | undefined;
  do {
    const page = await remote.deletedPage(remoteId, { ...filter, ...(next ? { next } : {}), limit: Math.min(10_000, max - items.length) });
    items.push(...page.items);
    next = page._links.next?.href;
  } while (next && items.length < max);
  return items;
}

/** The live paths at and below any of `prefixes` (one full listing of the changes feed: it lists no deletions). */
export async function readLiveUnder(remote: HistoryRemote, remoteId: string, prefixes: readonly string[]): Promise<string[]> {
  const paths = new Set<string>();
  let next: string | undefined;
  do {
    const page = await remote.changesPage(remoteId, { ...(next ? { next } : {}), limit: 10_000 });
    for (const item of page.items) {
      if (!prefixes.some((prefix) => item.path === prefix || item.path.startsWith(`${prefix}/`))) continue;
      if (item.deleted) paths.delete(item.path);
      else paths.add(item.path);
    }
    next = page._links.next?.href;
  } while (next);
  return [...paths];
}
