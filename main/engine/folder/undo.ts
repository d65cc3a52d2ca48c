import { FerryError } from '../../../protocol/errors';
import type { MassDeleteSide, Store } from '../../store';
import { restore, type RestoreOutcome, type RestoreRemote } from '../history/restore-batch';
import { ancestorsOf } from '../paths';
import { noUndoOffered, UNDO_KEEP_MS } from '../../../shared/pending-delete';
import { restoredWords } from '../../../shared/restore-words';

export { UNDO_KEEP_MS };
/** How old the offer the status shows may be (longer for a large batch: offer()). */
const OFFER_MAX_AGE_MS = 500;

/** What the banner shows of a confirmed mass delete that can still be undone. */
export interface UndoOffer {
  /** Its files, as the guard counted them (a folder holding some of its paths is not one). */
  count: number;
  /** Of those, the files here again (made again, or restored already): Undo leaves them as they are. */
  back: number;
  side: MassDeleteSide;
  /** The devices whose deletes a confirmed pull applied, as the held delete named them (none for this disk's own). */
  devices: string[];
  /** ISO times: when the user confirmed it, and until when Undo is offered. */
  confirmedAt: string;
  expiresAt: string;
  /** A few of its paths, sorted. */
  sample: string[];
  /** Deletes of the batch this disk has still to send: Undo waits for them. */
  sending: number;
}

export type UndoStore = Pick<Store, 'undoBatches' | 'queue' | 'activity' | 'index'>;

/** The puller's applied events, for collecting the paths a confirmed pull deletes. */
export interface AppliedEvents {
  on(event: 'applied', listener: (e: { folderId: string; path: string; action: string }) => void): unknown;
  off(event: 'applied', listener: (e: { folderId: string; path: string; action: string }) => void): unknown;
}

/**
 * Undo of a confirmed mass delete (docs/conflict-rules.md, "Undo of a confirmed mass delete"):
 * the confirm records the paths it deleted; Undo restores exactly those on the server, each at
 * its last live revision and only while it is still deleted, through the restore operation
 * (no block travels), and the files come back to every device through the normal pull.
 */
export class UndoBatches {
  /** The offer as last read: status goes out several times a second, the batch may hold thousands of paths. */
  private cached: { at: number; offer: UndoOffer | null; maxAgeMs: number } | null = null;

  constructor(
    private readonly store: UndoStore,
    private readonly folderId: string,
    private readonly keepMs: number = UNDO_KEEP_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The confirm of a held delete: these paths are the batch Undo brings back. */
  record(side: MassDeleteSide, paths: readonly string[], devices: readonly string[] = []): void {
    if (paths.length === 0) return;
    this.store.undoBatches.record({ folderId: this.folderId, side, paths, devices, keepMs: this.keepMs });
    this.cached = null;
  }

  /**
   * Runs a confirmed pull and records the paths it deleted here, and the devices that deleted
   * them. `before`: what the pulls just before the hold deleted here (its window), in the batch too.
   */
  async recordPull(events: AppliedEvents, devices: readonly string[], confirm: () => Promise<unknown>, before: readonly string[] = []): Promise<void> {
    const deleted: string[] = [...before];
    const listener = (e: { folderId: string; path: string; action: string }) => {
      if (e.folderId === this.folderId && e.action === 'deleted') deleted.push(e.path);
    };
    events.on('applied', listener);
    try {
      await confirm();
    } finally {
      events.off('applied', listener);
      // What a confirm that failed later on deleted is offered too: those deletes happened.
      this.record('pull', deleted, devices);
    }
  }

  offer(): UndoOffer | null {
    const now = this.now();
    if (this.cached && now - this.cached.at < this.cached.maxAgeMs) return this.cached.offer;
    const started = performance.now();
    const offer = this.read();
    // A batch of 100,000 paths takes a while to read: kept twenty times as long as its reading
    // took, so that a status polled twice a second spends at most a twentieth of its time here.
    this.cached = { at: now, offer, maxAgeMs: Math.max(OFFER_MAX_AGE_MS, (performance.now() - started) * 20) };
    return this.cached.offer;
  }

  private read(): UndoOffer | null {
    const batch = this.store.undoBatches.get(this.folderId);
    if (!batch) return null;
    const files = filesOf(batch.paths);
    return {
      count: files.length,
      back: this.store.index.present(this.folderId, files).length,
      side: batch.side,
      devices: batch.devices,
      confirmedAt: new Date(batch.confirmedAt).toISOString(),
      expiresAt: new Date(batch.expiresAt).toISOString(),
      sample: batch.paths.slice(0, 10),
      sending: batch.side === 'scan' ? this.store.queue.countDeletesOnTheirWay(this.folderId, batch.paths) : 0,
    };
  }

  dismiss(): void {
    this.store.undoBatches.remove(this.folderId);
    this.cached = null;
  }

  /**
   * Restores the batch on the server. Refused (`undo_pending`, retryable) while this disk still
   * sends deletes of it: a path whose delete is on its way would be deleted again after it.
   */
  async undo(remote: RestoreRemote, remoteId: string, reachable?: () => Promise<void>): Promise<RestoreOutcome> {
    const batch = this.store.undoBatches.get(this.folderId);
    if (!batch) throw new FerryError('nothing_to_undo', `Nothing to undo in this folder: ${noUndoOffered(this.keepMs)}`, { status: 409 });
    // What the banner says, the command says too: with every file of the batch here again (made
    // again, or restored by another device's Undo) there is nothing to undo (a new-user try ran
    // one that only listed skips). What is here again is left out: a file made again whose upload
    // has not reached the server is still deleted there, and would come back over it.
    const here = new Set(this.store.index.present(this.folderId, batch.paths));
    const files = filesOf(batch.paths);
    if (files.length > 0 && files.every((p) => here.has(p))) {
      const which = files.length === 1 ? 'The file of the last mass delete is' : `All ${files.length.toLocaleString('en')} files of the last mass delete are`;
      throw new FerryError('nothing_to_undo', `${which} here again (made again or restored since): there is nothing to undo`, { status: 409 });
    }
    const unsent = batch.side === 'scan' ? this.store.queue.countDeletesOnTheirWay(this.folderId, batch.paths) : 0;
    if (unsent > 0) {
      throw new FerryError('undo_pending', `${unsent} of the deletes are still being sent to the server; Undo again once they are`, { retryable: true, status: 409 });
    }
    await reachable?.();
    const restored = await restore(remote, remoteId, { kind: 'deleted', paths: batch.paths.filter((p) => !here.has(p)) });
    const hereAgain = files.filter((p) => here.has(p)).map((path) => ({ path, reason: 'it is here again (made again or restored since)' }));
    const outcome = { ...restored, skipped: [...hereAgain, ...restored.skipped] };
    this.dismiss();
    // Counted as the restore's answer counts, files and folders apart (a new-user try read "11 of
    // 14 items restored, 2 left": the folder that came back was in neither number).
    const back = restoredWords({ restored: outcome.restored.length, folders: outcome.folders });
    const left = outcome.skipped.length + outcome.failed.length;
    const message =
      (back ? `Mass delete undone: ${back.what} restored on the server` : 'Mass delete undo: nothing to bring back') +
      (left > 0 ? `; ${left.toLocaleString('en')} left as ${left === 1 ? 'it is' : 'they are'} (written again or restored since, or no longer kept)` : '');
    this.store.activity.add({ folderId: this.folderId, kind: 'info', message });
    return outcome;
  }
}

/** The paths that are no folder of another path of the batch (the banner named 11 files where the guard had asked about 10). */
export function filesOf(paths: readonly string[]): string[] {
  const folders = new Set<string>();
  for (const p of paths) for (const dir of ancestorsOf(p)) folders.add(dir);
  return paths.filter((p) => !folders.has(p));
}
