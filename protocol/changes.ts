import { z } from 'zod';
import { DEFAULT_CHANGES_LIMIT, MAX_CHANGES_LIMIT } from './constants';
import { ByteSize, IsoDate, MtimeMs, Revision, SyncKind } from './common';
import { Sha256Hex } from './hashes';

/** Tokens and cursors are opaque to clients; the server signs them. */
export const OpaqueToken = z.string().min(1).max(2048);

export const ChangesQuery = z
  .strictObject({
    syncModifications: z.literal('true').optional(),
    syncToken: OpaqueToken.optional(),
    cursor: OpaqueToken.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_CHANGES_LIMIT).default(DEFAULT_CHANGES_LIMIT),
  })
  .refine((q) => !(q.syncToken && q.cursor), { message: 'give either syncToken or cursor, not both' });
export type ChangesQuery = z.infer<typeof ChangesQuery>;

export const MAX_WAIT_SECONDS = 300;
export const DEFAULT_WAIT_SECONDS = 30;
export const WaitQuery = z.strictObject({
  syncToken: OpaqueToken,
  timeout: z.coerce.number().int().min(0).max(MAX_WAIT_SECONDS).default(DEFAULT_WAIT_SECONDS),
});
export type WaitQuery = z.infer<typeof WaitQuery>;

/** The path is already validated and NFC on the server; clients validate again (remote data is untrusted). */
export const ChangeItem = z.object({
  path: z.string().min(1),
  /** 'dir' items have size 0 and no blocks; absent (a server before directories) means 'file'. */
  kind: SyncKind.default('file'),
  revision: Revision,
  deleted: z.boolean(),
  size: ByteSize,
  mtime: MtimeMs,
  blocks: z.array(Sha256Hex),
  modificationDate: IsoDate,
  device: z.string(),
  /** The new entry of a move names the path it came from (docs/sync-api.md, "Moves"); a client may ignore it. */
  movedFrom: z.string().min(1).optional(),
  /**
   * A restore made this revision: the revision whose content it brought back (docs/sync-api.md,
   * "History and restore"). `device` is the device that asked for the restore, yet the revision
   * is no answer to any upload of it.
   */
  restoredFrom: Revision.optional(),
});
export type ChangeItem = z.infer<typeof ChangeItem>;

const Link = z.object({ href: z.string().min(1) });

export const ChangesPage = z.object({
  items: z.array(ChangeItem),
  _links: z
    .object({
      next: Link.optional(),
      'upcoming-modifications': Link.optional(),
    })
    .refine((l) => Boolean(l.next) !== Boolean(l['upcoming-modifications']), {
      message: 'a page links either to the next page or to the upcoming modifications',
    }),
});
export type ChangesPage = z.infer<typeof ChangesPage>;

export const WaitReply = z.object({ changes: z.boolean() });
export type WaitReply = z.infer<typeof WaitReply>;
