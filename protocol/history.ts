import { z } from 'zod';
import { DEFAULT_CHANGES_LIMIT, MAX_CHANGES_LIMIT } from './constants';
import { ByteSize, IsoDate, MtimeMs, Revision, SyncKind, SyncPath } from './common';
import { OpaqueToken } from './changes';
import { Sha256Hex } from './hashes';

/**
 * File history and deleted files (docs/sync-api.md, "History and restore"): read-only views
 * of the server's retained revisions, paged with opaque cursors like the changes feed.
 */

const Limit = z.coerce.number().int().min(1).max(MAX_CHANGES_LIMIT).default(DEFAULT_CHANGES_LIMIT);

/**
 * `GET /v1/folders/{id}/history?path=P[&cursor=…][&limit=N]`, or `?path=P&revision=R`: that one
 * revision with its `blocks` (an extension; never with a cursor).
 */
export const HistoryQuery = z
  .strictObject({
    path: SyncPath,
    cursor: OpaqueToken.optional(),
    limit: Limit,
    revision: Revision.optional(),
  })
  .refine((q) => q.revision === undefined || q.cursor === undefined, { message: 'revision names one version: it takes no cursor', path: ['cursor'] });
export type HistoryQuery = z.infer<typeof HistoryQuery>;

/** One retained revision of a path; `deleted` ones are its deletions (no content). */
export const HistoryItem = z.object({
  revision: Revision,
  kind: SyncKind.default('file'),
  deleted: z.boolean(),
  size: ByteSize,
  mtime: MtimeMs,
  modificationDate: IsoDate,
  device: z.string(),
  /** This revision is a move's: the path it had before (its earlier history is under that path). */
  movedFrom: z.string().optional(),
  /** This deletion is a move's tombstone: the path went there (it was renamed, not deleted). */
  movedTo: z.string().optional(),
  /** This revision is a restore's: the revision whose content it brought back. */
  restoredFrom: Revision.optional(),
  /**
   * A live file's content fingerprint: SHA-256 over its block hashes in order (as the client's
   * own content hash: the same bytes, the same hash). Absent for deletions and folders, and from
   * a server before this extension.
   */
  contentHash: Sha256Hex.optional(),
  /**
   * The version's block hashes in order, only in the answer to `revision=R` (`[]` for a deletion,
   * a folder, an empty file); never in the listing, nor from a server before this extension.
   */
  blocks: z.array(Sha256Hex).optional(),
});
export type HistoryItem = z.infer<typeof HistoryItem>;

const NextLink = z.object({ next: z.object({ href: z.string().min(1) }).optional() });

/** Newest first; `_links.next` while more remain. */
export const HistoryPage = z.object({ items: z.array(HistoryItem), _links: NextLink });
export type HistoryPage = z.infer<typeof HistoryPage>;

/** `GET /v1/folders/{id}/deleted[?prefix=P][&since=ISO][&cursor=…][&limit=N]` */
export const DeletedQuery = z.strictObject({
  /** A path: itself and everything below it. */
  prefix: SyncPath.optional(),
  /** Only deletions made at or after this moment. */
  since: IsoDate.optional(),
  /** `true`: the paths moves took away are listed too, each with `movedTo`. */
  moved: z.literal('true').optional(),
  cursor: OpaqueToken.optional(),
  limit: Limit,
});
export type DeletedQuery = z.infer<typeof DeletedQuery>;

/** A path whose current entry is a deletion, with the revision a restore would bring back. */
export const DeletedItem = z.object({
  path: z.string().min(1),
  kind: SyncKind.default('file'),
  /** The deletion's revision: the `baseRevision` of a restore. */
  revision: Revision,
  deletedAt: IsoDate,
  device: z.string(),
  /** Listed with `moved=true`: a move took the path away, to this one (it was renamed, not deleted). */
  movedTo: z.string().optional(),
  /** The last live revision still retained; null when none is (nothing to restore). */
  lastLive: HistoryItem.nullable(),
});
export type DeletedItem = z.infer<typeof DeletedItem>;

/** Newest deletion first; `_links.next` while more remain. */
export const DeletedPage = z.object({ items: z.array(DeletedItem), _links: NextLink });
export type DeletedPage = z.infer<typeof DeletedPage>;
