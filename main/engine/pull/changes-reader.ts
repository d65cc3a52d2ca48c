import { ChangesPage, type ChangeItem } from '../../../protocol/changes';
import { FerryError, isFerryError } from '../../../protocol/errors';
import { syncTokenFromHref } from '../../../protocol/routes';
import type { PullRemote } from './remote-port';

export type FeedRead =
  | { kind: 'ok'; full: boolean; items: ChangeItem[]; token: string; pages: number }
  /** 410 sync_token_expired: the caller runs a full sync and reconciles. */
  | { kind: 'expired' };

export interface ReadOptions {
  limit?: number;
  signal?: AbortSignal;
  /** A server that keeps linking to new pages forever is broken, not large. */
  maxPages?: number;
}

const malformed = (message: string, cause?: unknown) =>
  new FerryError('malformed_reply', `Malformed changes page: ${message}`, { retryable: true, cause });

/** The cursor (and limit) a `next` href carries; anything else in it is ignored. */
export function cursorFromHref(href: string): string {
  let cursor: string | null;
  try {
    cursor = new URL(href, 'http://ferry.invalid').searchParams.get('cursor');
  } catch (error) {
    throw malformed(`next link is not a URL`, error);
  }
  if (!cursor) throw malformed('next link carries no cursor');
  return cursor;
}

/** Later wins on equal dates: the feed is ordered by modification, so a later page is newer. */
function newer(candidate: ChangeItem, current: ChangeItem): boolean {
  return Date.parse(candidate.modificationDate) >= Date.parse(current.modificationDate);
}

/** Merges items per path keeping the newest modificationDate; keeps first-seen order. */
export function mergeItems(into: Map<string, ChangeItem>, items: readonly ChangeItem[]): void {
  for (const item of items) {
    const current = into.get(item.path);
    if (!current || newer(item, current)) into.set(item.path, item);
  }
}

/**
 * Reads every page of the feed from `token` (or the full state without one), following
 * `next` links, and returns the merged items and the new token. Nothing is applied here,
 * so a malformed page fails the whole read before any change touches the disk.
 */
export async function readChanges(
  remote: Pick<PullRemote, 'changesPage'>,
  remoteFolderId: string,
  token: string | undefined,
  options: ReadOptions = {},
): Promise<FeedRead> {
  const maxPages = options.maxPages ?? 100_000;
  const merged = new Map<string, ChangeItem>();
  const seenCursors = new Set<string>();
  let cursor: string | undefined;
  for (let pages = 1; pages <= maxPages; pages++) {
    let raw: unknown;
    try {
      const query = cursor ? { cursor } : token ? { syncToken: token } : {};
      raw = await remote.changesPage(remoteFolderId, { ...query, ...(options.limit ? { limit: options.limit } : {}) }, { signal: options.signal });
    } catch (error) {
      if (!cursor && token && isFerryError(error) && error.code === 'sync_token_expired') return { kind: 'expired' };
      throw error;
    }
    // The client validates too; the engine does not rely on it (remote data is untrusted).
    const parsed = ChangesPage.safeParse(raw);
    if (!parsed.success) throw malformed(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const page = parsed.data;
    mergeItems(merged, page.items);
    const next = page._links.next?.href;
    if (next) {
      cursor = cursorFromHref(next);
      if (seenCursors.has(cursor)) throw malformed('next link loops back to a page already read');
      seenCursors.add(cursor);
      continue;
    }
    const upcoming = page._links['upcoming-modifications']?.href ?? '';
    let newToken: string | null = null;
    try {
      newToken = syncTokenFromHref(upcoming);
    } catch (error) {
      throw malformed('upcoming-modifications link is not a URL', error);
    }
    if (!newToken) throw malformed('upcoming-modifications link carries no syncToken');
    return { kind: 'ok', full: !token, items: [...merged.values()], token: newToken, pages };
  }
  throw malformed(`more than ${maxPages} pages`);
}
