import { z } from 'zod';
import { checkSyncPath } from './paths';

/**
 * Marks a zod issue with the Sync API error code it should surface as (instead of the
 * generic 'invalid_request'), so a bad path answers `invalid_path` wherever it appears.
 */
export const FERRY_CODE_PARAM = 'ferryCode';

/** A folder-relative path; parsing yields its NFC form. */
export const SyncPath = z.string().transform((value, ctx) => {
  const result = checkSyncPath(value);
  if (result.ok) return result.path;
  ctx.addIssue({ code: 'custom', message: `Invalid path: ${result.reason}`, params: { [FERRY_CODE_PARAM]: 'invalid_path' } });
  return z.NEVER;
});

/** Revisions are opaque to clients; the reference server renders a monotonic integer. */
export const Revision = z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be a revision string');
export type Revision = z.infer<typeof Revision>;

export const FOLDER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const FolderId = z.string().regex(FOLDER_ID_PATTERN, 'must be 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');

/** Tracking ids are UUIDs in practice; any short token-safe string is accepted. */
export const TrackingId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -');
/** Device ids and run labels end up in logs and the changes feed: printable ASCII only. */
export const DeviceId = z.string().regex(/^[\x21-\x7e]{1,128}$/, 'must be 1-128 printable ASCII characters');
export const RunLabel = z.string().regex(/^[\x20-\x7e]{1,256}$/, 'must be 1-256 printable ASCII characters');

/**
 * X-Ferry-Run as clients send it, `<name>;<ISO stamp>`, built in one place: the name keeps
 * printable ASCII without space or ';' (the separator), other characters become '_', at most
 * 64 of them (`fallback` when nothing is left), then `-<sequence>` when one is given.
 */
export function formatRunHeader(name: string, stamp: Date, options: { fallback?: string; sequence?: number } = {}): string {
  const safe = name.replace(/[^\x21-\x3a\x3c-\x7e]/g, '_').slice(0, 64) || (options.fallback ?? 'run');
  return `${safe}${options.sequence !== undefined ? `-${options.sequence}` : ''};${stamp.toISOString()}`;
}

/**
 * When the run an X-Ferry-Run value names started, in ms since the epoch: its part after the last
 * ';' when that is an ISO-8601 time (what `formatRunHeader` writes); null otherwise (no header,
 * another client's label), when nothing can be said about which run came first.
 */
export function runStartOf(header: string | undefined): number | null {
  if (header === undefined) return null;
  const stamp = header.slice(header.lastIndexOf(';') + 1);
  if (stamp === header || !IsoDate.safeParse(stamp).success) return null;
  const at = Date.parse(stamp);
  return Number.isFinite(at) ? at : null;
}

/**
 * What a path names: a regular file (content in blocks) or a directory (no content; it
 * exists in its own right, so empty folders and folder deletes sync). Absent on the wire
 * means 'file', the only kind Sync API v1 had at first.
 */
export const SyncKind = z.enum(['file', 'dir']);
export type SyncKind = z.infer<typeof SyncKind>;

/** Sizes are bytes; mtimes are milliseconds since the Unix epoch (fractions allowed). */
export const ByteSize = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const MtimeMs = z.number().finite().min(0).max(8.64e15);
export const IsoDate = z.iso.datetime({ offset: true });
