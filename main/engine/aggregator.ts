import { realTimers, type Timers } from './timers';

export { realTimers, type Timers };

/**
 * Collapses bursts of watcher hints per path. A path is flushed once no hint came for it
 * for settleMs, or at the latest maxDelayMs after its first hint (a file rewritten
 * forever still gets looked at). Time is injected so tests run without sleeping.
 *
 * settleMs is short, so that a saved file goes at once. A path hinted again within
 * busyWindowMs of its last flush is being written in steps (a slow copy, a log): it waits
 * busySettleMs of quiet instead, so that it is looked at once when the writer is done rather
 * than after every step (docs/architecture.md, "The way of a local change").
 *
 * A burst of N hints costs O(N log N): due times sit in a min-heap (an entry superseded by a
 * later hint is skipped when it surfaces) instead of every hint walking every pending path.
 */
export interface AggregatorOptions {
  settleMs: number;
  maxDelayMs: number;
  /** Quiet time for a path that changes again soon after it was flushed (default: settleMs). */
  busySettleMs?: number;
  /** How long after a flush another hint marks the path busy (default 1 s). */
  busyWindowMs?: number;
  onFlush: (paths: string[]) => void;
  timers?: Timers;
}

interface PendingPath {
  firstAt: number;
  dueAt: number;
}

const DEFAULT_BUSY_WINDOW_MS = 1000;

/** A path's due time as of one hint; stale once the path's current dueAt differs. */
type DueEntry = { dueAt: number; path: string };

export class ChangeAggregator {
  private readonly pending = new Map<string, PendingPath>();
  /** Paths flushed within the busy window, with when; pruned as the window passes. */
  private readonly recentlyFlushed = new Map<string, number>();
  private readonly heap = new DueHeap();
  private readonly timers: Timers;
  private timer: unknown = null;
  private timerDueAt = Infinity;
  private stopped = false;

  constructor(private readonly options: AggregatorOptions) {
    this.timers = options.timers ?? realTimers;
  }

  get size(): number {
    return this.pending.size;
  }

  /** A hint for path; delayMs overrides the settle delay (retries of unstable files). */
  add(path: string, delayMs?: number): void {
    if (this.stopped) return;
    const now = this.timers.now();
    const existing = this.pending.get(path);
    const before = existing?.dueAt;
    let entry: PendingPath;
    if (delayMs !== undefined) {
      entry = { firstAt: existing?.firstAt ?? now, dueAt: Math.max(existing?.dueAt ?? 0, now + delayMs) };
      this.pending.set(path, entry);
    } else if (existing) {
      existing.dueAt = Math.max(existing.dueAt, Math.min(now + this.settleFor(path, now), existing.firstAt + this.options.maxDelayMs));
      entry = existing;
    } else {
      entry = { firstAt: now, dueAt: now + this.settleFor(path, now) };
      this.pending.set(path, entry);
    }
    if (entry.dueAt !== before) this.heap.push({ dueAt: entry.dueAt, path });
    this.schedule();
  }

  private settleFor(path: string, now: number): number {
    const flushedAt = this.recentlyFlushed.get(path);
    const busy = flushedAt !== undefined && now - flushedAt < (this.options.busyWindowMs ?? DEFAULT_BUSY_WINDOW_MS);
    return busy ? Math.max(this.options.settleMs, this.options.busySettleMs ?? 0) : this.options.settleMs;
  }

  /** Hands over everything pending at once (stop, rescan). */
  drain(): string[] {
    const paths = [...this.pending.keys()];
    this.pending.clear();
    this.heap.clear();
    this.recentlyFlushed.clear();
    this.cancelTimer();
    return paths;
  }

  stop(): void {
    this.stopped = true;
    this.drain();
  }

  /** The earliest current due time: stale heap entries on top are dropped on the way. */
  private nextDue(): DueEntry | undefined {
    for (let top = this.heap.peek(); top; top = this.heap.peek()) {
      if (this.pending.get(top.path)?.dueAt === top.dueAt) return top;
      this.heap.pop();
    }
    return undefined;
  }

  private schedule(): void {
    const next = this.nextDue()?.dueAt ?? Infinity;
    if (next === Infinity) return this.cancelTimer();
    if (this.timer !== null && this.timerDueAt <= next) return;
    this.cancelTimer();
    this.timerDueAt = next;
    this.timer = this.timers.setTimeout(() => this.fire(), Math.max(0, next - this.timers.now()));
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.timerDueAt = Infinity;
  }

  private fire(): void {
    this.timer = null;
    this.timerDueAt = Infinity;
    const now = this.timers.now();
    const due: string[] = [];
    for (let top = this.nextDue(); top && top.dueAt <= now; top = this.nextDue()) {
      this.heap.pop();
      this.pending.delete(top.path);
      due.push(top.path);
    }
    this.rememberFlushed(due, now);
    this.schedule();
    if (due.length > 0) this.options.onFlush(due.sort());
  }

  /** Map order is insertion order: the oldest flushes are dropped from the front. */
  private rememberFlushed(paths: string[], now: number): void {
    if (!this.options.busySettleMs || this.options.busySettleMs <= this.options.settleMs) return;
    const window = this.options.busyWindowMs ?? DEFAULT_BUSY_WINDOW_MS;
    for (const [path, at] of this.recentlyFlushed) {
      if (now - at < window) break;
      this.recentlyFlushed.delete(path);
    }
    for (const path of paths) {
      this.recentlyFlushed.delete(path);
      this.recentlyFlushed.set(path, now);
    }
  }
}

/** A binary min-heap of due entries, by dueAt. */
class DueHeap {
  private readonly items: DueEntry[] = [];

  peek(): DueEntry | undefined {
    return this.items[0];
  }

  clear(): void {
    this.items.length = 0;
  }

  push(entry: DueEntry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.dueAt <= entry.dueAt) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = entry;
  }

  pop(): DueEntry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && items[right]!.dueAt < items[left]!.dueAt ? right : left;
      if (items[child]!.dueAt >= last.dueAt) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
