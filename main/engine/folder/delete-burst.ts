import type { Timers } from '../timers';

/** Quiet time after the last delete seen before a burst is judged (docs/conflict-rules.md, local deletes). */
export const DELETE_QUIET_MS = 1000;
/** Longest a delete is held while more keep arriving. */
export const DELETE_MAX_HOLD_MS = 10_000;
/** While hints wait to be scanned, the quiet time is looked at again this often. */
const BUSY_RECHECK_MS = 100;

export interface DeleteBurstOptions {
  timers: Timers;
  quietMs?: number;
  maxHoldMs?: number;
  /** The whole burst, once no delete came for quietMs (or maxHoldMs after its first). */
  onRelease: (paths: string[]) => void;
  /** Hints still wait to be scanned: they may hold more of the burst, so the quiet time is not over. */
  busy?: () => boolean;
}

/**
 * Holds the paths a scan found gone while more deletes are arriving, so that a bulk delete
 * (`rm note-*.txt`, `rm -r dir`) is judged whole instead of in the slices the watcher and
 * the aggregator deliver it in.
 */
export class DeleteBurst {
  private readonly paths = new Set<string>();
  private firstAt = 0;
  private timer: unknown = null;
  private stopped = false;

  constructor(private readonly o: DeleteBurstOptions) {}

  get size(): number {
    return this.paths.size;
  }

  add(path: string): void {
    if (this.stopped) return;
    const now = this.o.timers.now();
    if (this.paths.size === 0) this.firstAt = now;
    this.paths.add(path);
    this.arm(now + (this.o.quietMs ?? DELETE_QUIET_MS));
  }

  private arm(at: number): void {
    if (this.timer !== null) this.o.timers.clearTimeout(this.timer);
    const latest = this.firstAt + (this.o.maxHoldMs ?? DELETE_MAX_HOLD_MS);
    const due = Math.min(at, latest);
    this.timer = this.o.timers.setTimeout(() => {
      this.timer = null;
      const now = this.o.timers.now();
      if (now < latest && this.o.busy?.()) return this.arm(now + BUSY_RECHECK_MS);
      this.release();
    }, Math.max(0, due - this.o.timers.now()));
  }

  /** Hands everything held over now (a reconcile is about to judge the folder whole anyway). */
  release(): void {
    if (this.timer !== null) this.o.timers.clearTimeout(this.timer);
    this.timer = null;
    if (this.paths.size === 0) return;
    const paths = [...this.paths].sort();
    this.paths.clear();
    this.o.onRelease(paths);
  }

  /** Drops what is held: the next start-up reconcile finds those deletes again. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.o.timers.clearTimeout(this.timer);
    this.timer = null;
    this.paths.clear();
  }
}
