import type { QueueItem } from '../../store/queue';
import type { PusherOptions } from './options';
import type { Timers } from './timers';

export interface ClaimLoopDeps {
  claim: (limit: number) => QueueItem[];
  timers: Timers;
  options: () => Pick<PusherOptions, 'claimChunk' | 'maxClaimed' | 'idlePollMs'>;
  running: () => boolean;
  /** Running, not paused, online. */
  mayClaim: () => boolean;
  /** Items are now held (in flight): send them on their way. */
  onClaimed: (items: QueueItem[]) => void;
  /** Nothing was due and nothing is held: the run is over. */
  onDrained: () => void;
  /** An item was let go. */
  onRelease: () => void;
  /** A claim the store refused (its disk full): nothing was claimed; the next pump tries again. */
  onClaimFailed: (error: unknown) => void;
}

/**
 * Claims due items from the queue in chunks while fewer than maxClaimed are held, wakes at
 * the earliest retry time it was told about, and looks again every idlePollMs. Cheap to
 * call often; a burst of releases leads to one claim.
 */
export class ClaimLoop {
  private held = 0;
  private pumpQueued = false;
  private wakeTimer: unknown;
  private wakeAt = Number.POSITIVE_INFINITY;
  private idleTimer: unknown;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly d: ClaimLoopDeps) {}

  /** Items held right now (claimed, or restored from a persisted task). */
  get inFlight(): number {
    return this.held;
  }

  /** Items held without a claim (a persisted async task's, after a restart). */
  hold(n: number): void {
    this.held += n;
  }

  pump(): void {
    if (!this.d.mayClaim()) return;
    const o = this.d.options();
    let claimedNow = 0;
    let refused = false;
    // Claim in whole chunks: one blocks/missing request and one batch serve many items.
    const step = Math.max(1, Math.min(o.claimChunk, o.maxClaimed));
    while (o.maxClaimed - this.held >= step || this.held === 0) {
      const limit = Math.min(o.claimChunk, o.maxClaimed - this.held);
      if (limit <= 0) break;
      let items: QueueItem[];
      try {
        items = this.d.claim(limit);
      } catch (error) {
        // The claim's transaction rolled back (a full disk refused it): nothing is held for it.
        // Never thrown from here: callers pump from timers and from the online transition,
        // which must still wake the requests waiting for the server (chaos seed 1, --disk-full).
        refused = true;
        this.d.onClaimFailed(error);
        break;
      }
      if (items.length === 0) break;
      this.held += items.length;
      claimedNow += items.length;
      this.d.onClaimed(items);
    }
    if (claimedNow === 0 && this.held === 0 && !refused) {
      this.d.onDrained();
      for (const w of this.idleWaiters.splice(0)) w();
    }
    this.d.timers.clearTimeout(this.idleTimer);
    this.idleTimer = this.d.timers.setTimeout(() => this.pump(), o.idlePollMs);
  }

  /** Wakes the loop at `at` (an item's retry time) unless an earlier wake is set. */
  wake(at: number): void {
    if (!this.d.running() || at >= this.wakeAt) return;
    this.d.timers.clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = this.d.timers.setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.pump();
    }, Math.max(0, at - this.d.timers.now()));
  }

  release(): void {
    this.held = Math.max(0, this.held - 1);
    this.d.onRelease();
    const o = this.d.options();
    if (this.held === 0 || o.maxClaimed - this.held >= Math.min(o.claimChunk, o.maxClaimed)) this.schedulePump();
  }

  /** Resolves at the next pump that finds nothing due and nothing held. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.pump();
    });
  }

  /** No more wakes (stop). */
  stopTimers(): void {
    this.d.timers.clearTimeout(this.wakeTimer);
    this.d.timers.clearTimeout(this.idleTimer);
    this.wakeTimer = this.idleTimer = undefined;
    this.wakeAt = Number.POSITIVE_INFINITY;
  }

  /** Everything in flight was abandoned (stop, once it settled). */
  reset(): void {
    this.held = 0;
  }

  /** A batch releases hundreds of items at once: one claim afterwards, not one per item. */
  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }
}
