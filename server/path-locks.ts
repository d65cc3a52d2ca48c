/**
 * Paths held by running tasks. A task takes all its paths at once or none, so two tasks
 * touching one path never run together and no task waits while holding a lock.
 */
export class PathLocks {
  private readonly holders = new Map<string, string>();

  tryAcquire(keys: readonly string[], owner: string): boolean {
    if (keys.some((k) => this.holders.has(k) && this.holders.get(k) !== owner)) return false;
    for (const k of keys) this.holders.set(k, owner);
    return true;
  }

  release(keys: readonly string[], owner: string): void {
    for (const k of keys) if (this.holders.get(k) === owner) this.holders.delete(k);
  }

  get size(): number {
    return this.holders.size;
  }
}

export const lockKey = (folderId: string, path: string): string => `${folderId}\u0000${path}`;
