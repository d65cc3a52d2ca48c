import type { Timers } from './timers';

export interface BatcherOptions<T> {
  /** Flush a group as soon as it holds this many items... */
  maxCount: number;
  /** ...or this many bytes... */
  maxBytes: number;
  /** ...or this long after its first item arrived. */
  lingerMs: number;
  timers: Timers;
  groupOf(item: T): string;
  bytesOf(item: T): number;
  onFlush(group: string, items: T[]): void;
}

interface Group<T> {
  items: T[];
  bytes: number;
  timer: unknown;
}

/**
 * Collects ready items into batches per group (folder): many small files become one keyed
 * request instead of one round trip each. The linger bounds how long an item waits.
 */
export class Batcher<T> {
  private readonly groups = new Map<string, Group<T>>();

  constructor(private readonly o: BatcherOptions<T>) {}

  /** Items waiting for a flush. */
  get pending(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.items.length;
    return n;
  }

  add(item: T): void {
    const key = this.o.groupOf(item);
    let group = this.groups.get(key);
    if (!group) {
      group = { items: [], bytes: 0, timer: undefined };
      this.groups.set(key, group);
    }
    group.items.push(item);
    group.bytes += this.o.bytesOf(item);
    if (group.items.length >= this.o.maxCount || group.bytes >= this.o.maxBytes) this.flush(key);
    else if (group.timer === undefined) group.timer = this.o.timers.setTimeout(() => this.flush(key), this.o.lingerMs);
  }

  /** Flushes one group now (nothing happens if it is empty). */
  flush(key: string): void {
    const group = this.groups.get(key);
    if (!group) return;
    this.groups.delete(key);
    if (group.timer !== undefined) this.o.timers.clearTimeout(group.timer);
    if (group.items.length > 0) this.o.onFlush(key, group.items);
  }

  /** Flushes everything, e.g. when no more items are on their way. */
  flushAll(): void {
    for (const key of [...this.groups.keys()]) this.flush(key);
  }

  /** Drops everything without flushing (stop); returns what was dropped. */
  drain(): T[] {
    const out: T[] = [];
    for (const [key, group] of this.groups) {
      if (group.timer !== undefined) this.o.timers.clearTimeout(group.timer);
      out.push(...group.items);
      this.groups.delete(key);
    }
    return out;
  }
}
