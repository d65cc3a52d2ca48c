import { MAX_BLOCK_BATCH_BYTES, asFerryError } from '../../../protocol';
import type { Logger } from '../../logging';
import type { Store } from '../../store';
import { blockRef, readVerifiedBlock } from '../hashing';
import { resolveDiskPath } from '../paths';
import type { Timers } from '../timers';

/**
 * A block looked for here is not looked for again this soon: sent, the server has it (its list
 * may name it a little longer); not found, every row of the folder was read for it.
 */
export const LOOK_AGAIN_MS = 10 * 60_000;
/** Blocks read ahead of their upload at most: a batch goes once it holds this many bytes (half a batch body's limit). */
const BATCH_BYTES = MAX_BLOCK_BATCH_BYTES / 2;

export interface LostBlockResenderOptions {
  store: Pick<Store, 'folders' | 'index'>;
  /** The Sync API client of the moment (null while the engine is stopped). */
  remote: () => { putBlocks(blocks: ReadonlyArray<{ hash: string; data: Uint8Array }>): Promise<unknown> } | null;
  timers: Timers;
  log: Logger;
}

/**
 * Uploads again the blocks the server lost (docs/sync-api.md, "Lost blocks"), named in the
 * reply to this device's report on a folder. Each comes from a file of that folder the index
 * says holds it, read from disk and checked against its hash: a file changed since is not
 * sent. Best effort, one run at a time: what is not sent is asked for again with a later
 * report.
 */
export class LostBlockResender {
  private running: Promise<void> | null = null;
  /** hash → when it was last looked for here (and sent, or not found). */
  private readonly looked = new Map<string, number>();

  constructor(private readonly o: LostBlockResenderOptions) {}

  /** The server asked for these blocks of the folder; a run starts unless one is going. */
  wanted(folderId: string, hashes: readonly string[]): void {
    if (this.running) return;
    this.running = this.resend(folderId, hashes)
      .then(() => undefined)
      .catch((error: unknown) => {
        const e = asFerryError(error);
        this.o.log.warn('blocks the server lost were not sent again', { folder: folderId, code: e.code, error: e.message });
      })
      .finally(() => (this.running = null));
  }

  /** Waits for the run in progress (tests, stop). */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Sends what this device holds of `hashes`; returns how many went and how many are not here. */
  async resend(folderId: string, hashes: readonly string[]): Promise<{ sent: number; notHere: number }> {
    const folder = this.o.store.folders.get(folderId);
    const remote = this.o.remote();
    if (!folder || !remote) return { sent: 0, notHere: 0 };
    const now = this.o.timers.now();
    for (const [hash, at] of this.looked) if (at + LOOK_AGAIN_MS <= now) this.looked.delete(hash);
    const asked = [...new Set(hashes)].filter((h) => !this.looked.has(h));
    const sources = this.o.store.index.blockSources(folderId, asked);
    const found = new Set<string>();
    let batch: Array<{ hash: string; data: Uint8Array }> = [];
    let bytes = 0;
    let sent = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await remote.putBlocks(batch);
      sent += batch.length;
      batch = [];
      bytes = 0;
    };
    for (const source of sources) {
      if (found.has(source.hash)) continue;
      const data = await readVerifiedBlock(blockRef(resolveDiskPath(folder.localRoot, source.path), source.size, source.index), source.hash);
      if (data === null) continue;
      found.add(source.hash);
      if (bytes + data.length > BATCH_BYTES) await flush();
      batch.push({ hash: source.hash, data });
      bytes += data.length;
    }
    await flush();
    const missing = asked.filter((h) => !found.has(h));
    // Only once everything went: a run cut short by the network is tried again at the next report.
    for (const h of asked) this.looked.set(h, now);
    if (sent > 0) this.o.log.info('sent again blocks the server lost', { folder: folderId, blocks: sent });
    if (missing.length > 0) this.o.log.debug('blocks the server lost are not on this device', { folder: folderId, blocks: missing.length });
    return { sent, notHere: missing.length };
  }
}
