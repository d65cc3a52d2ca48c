import { createHash } from 'node:crypto';
import { BLOCK_SIZE } from '../../../protocol/constants';
import { FerryError } from '../../../protocol/errors';
import type { HistoryItem } from '../../../protocol/history';
import { BlockFetcher } from '../pull/downloader';
import type { PullRemote } from '../pull/remote-port';

/**
 * What a past version of a file holds, before the user restores it (History's View, `ferry
 * history PATH --show REV`): the version's block hashes from the server (docs/sync-api.md,
 * "History and restore", `revision=R`), then only the blocks that cover its first PREVIEW_BYTES,
 * each checked against its hash as the pull checks it.
 */

/** How much of a version a preview reads and shows at most. */
export const PREVIEW_BYTES = 64 * 1024;

/** The reads a preview needs (main/remote's SyncApiClient). */
export interface PreviewRemote extends Pick<PullRemote, 'getBlock' | 'fetchBlocks'> {
  historyVersion(folderId: string, query: { path: string; revision: string }): Promise<HistoryItem & { blocks: string[] }>;
}

export interface VersionPreview {
  revision: string;
  /** The version's size in bytes. */
  size: number;
  /** How many of its bytes `text` holds (0 when binary). */
  shownBytes: number;
  /** The version has more bytes than were read: the text is its beginning only. */
  truncated: boolean;
  /** Its first bytes as text when they are UTF-8 without NUL; null for binary content. */
  text: string | null;
}

export async function previewVersion(remote: PreviewRemote, remoteId: string, path: string, revision: string): Promise<VersionPreview> {
  const item = await remote.historyVersion(remoteId, { path, revision });
  if (item.deleted) {
    const why = item.movedTo !== undefined ? `where ${path} was renamed to ${item.movedTo}` : 'a deletion';
    throw new FerryError('version_deleted', `Version #${revision} of ${path} is ${why}: it has no content to show`, { retryable: false, status: 409 });
  }
  if (item.kind === 'dir') throw new FerryError('version_is_folder', `Version #${revision} of ${path} is a folder: it has no content to show`, { retryable: false, status: 409 });
  const { size, blocks } = item;
  checkBlocks(item, revision);

  const fetcher = new BlockFetcher({ remote, concurrency: 1 });
  const parts: Uint8Array[] = [];
  let read = 0;
  for (const hash of blocks) {
    if (read >= PREVIEW_BYTES) break;
    // A one-block file's length is known, so a small one goes through the batch fetch as a pull's does.
    const data = await fetcher.fetch(hash, blocks.length === 1 ? size : undefined);
    parts.push(data);
    read += data.length;
    if (read > size) throw malformed(`its blocks hold more than its ${size} bytes`, revision);
  }
  if (parts.length === blocks.length && read !== size) throw malformed(`its blocks hold ${read} bytes, not its ${size}`, revision);
  const head = Buffer.concat(parts).subarray(0, Math.min(PREVIEW_BYTES, size));
  const truncated = head.length < size;
  const text = textOf(head, truncated);
  return { revision, size, shownBytes: text === null ? 0 : Buffer.byteLength(text, 'utf8'), truncated, text };
}

/** The blocks the server named must make the version it listed: as many as its size takes, and its fingerprint. */
function checkBlocks(item: HistoryItem & { blocks: string[] }, revision: string): void {
  const { size, blocks } = item;
  if (size === 0 ? blocks.length !== 0 : blocks.length === 0 || blocks.length * BLOCK_SIZE < size || blocks.length > size) {
    throw malformed(`${blocks.length} block(s) cannot hold its ${size} bytes`, revision);
  }
  if (item.contentHash !== undefined) {
    const h = createHash('sha256');
    for (const b of blocks) h.update(b);
    if (h.digest('hex') !== item.contentHash) throw malformed('its blocks are not the ones its content fingerprint names', revision);
  }
}

function malformed(what: string, revision: string): FerryError {
  return new FerryError('malformed_reply', `The server's answer for version #${revision} does not add up: ${what}`, { retryable: true });
}

/**
 * The bytes as text when they are UTF-8 without NUL, else null. Cut short (`cut`), a character
 * whose bytes run past the cut is left out rather than taken for binary.
 */
export function textOf(bytes: Uint8Array, cut: boolean): string | null {
  let text: string;
  try {
    // ignoreBOM: a BOM stays in the text, so its UTF-8 length is the bytes shown.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes, { stream: cut });
  } catch {
    return null;
  }
  return text.includes('\0') ? null : text;
}
