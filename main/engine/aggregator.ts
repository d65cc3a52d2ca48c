import { realTimers, type Timers } from './timers';

export { realTimers, type Timers };

/**
 * Collapses bursts of watcher hints per path. A path is flushed once no hint came for it
 * for settleMs, or at the latest maxDelayMs after its first hint (a file rewritten
 * forever still gets looked at). Time is injected so tests run without sleeping.
 */
export interface AggregatorOptions {
  settleMs: number;
  maxDelayMs: number;
  onFlush: (paths: string[]) => void;
  timers?: Timers;
}

interface PendingPath {
  firstAt: number;
  dueAt: number;
}

export class ChangeAggregator {
  private readonly pending = new Map<string, PendingPath>();
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
    if (delayMs !== undefined) {
      this.pending.set(path, { firstAt: existing?.firstAt ?? now, dueAt: Math.max(existing?.dueAt ?? 0, now + delayMs) });
    } else if (existing) {
      existing.dueAt = Math.max(existing.dueAt, Math.min(now + this.options.settleMs, existing.firstAt + this.options.maxDelayMs));
    } else {
      this.pending.set(path, { firstAt: now, dueAt: now + this.options.settleMs });
    }
    this.schedule();
  }

  /** Hands over everything pending at once (stop, rescan). */
  drain(): string[] {
    const paths = [...this.pending.keys()];
    this.pending.clear();
    this.cancelTimer();
    return paths;
  }

  stop(): void {
    this.stopped = true;
    this.drain();
  }

  private schedule(): void {
    let next = Infinity;
    for (const p of this.pending.values()) if (p.dueAt < next) next = p.dueAt;
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
    for (const [path, p] of this.pending) {
      if (p.dueAt <= now) {
        due.push(path);
        this.pending.delete(path);
      }
    }
    this.schedule();
    if (due.length > 0) this.options.onFlush(due.sort());
  }
}
