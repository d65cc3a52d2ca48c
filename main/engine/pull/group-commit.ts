import { promises as fsp } from 'node:fs';

/** fsync of a directory (makes the renames into it durable); refused by some file systems. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems (and Windows) refuse fsync on a directory; the rename still stands.
    if (!['EINVAL', 'EPERM', 'EISDIR', 'EBADF'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle.close();
  }
}

interface DirState {
  running: Promise<void> | null;
  next: Promise<void> | null;
}

/**
 * Group commit of directory fsyncs: resolves once an fsync of `dir` that *started after this
 * call* has finished, so every rename into `dir` made before the call is durable. Renames into
 * the same directory that land while one fsync runs share the next one, instead of costing
 * one fsync each.
 */
export class DirSyncer {
  private readonly dirs = new Map<string, DirState>();

  constructor(private readonly sync: (dir: string) => Promise<void> = fsyncDir) {}

  flush(dir: string): Promise<void> {
    let s = this.dirs.get(dir);
    if (!s) {
      s = { running: null, next: null };
      this.dirs.set(dir, s);
    }
    const running = s.running;
    if (!running) return this.start(dir, s);
    // The running fsync may have started before our rename: wait for the one after it.
    const state = s;
    state.next ??= running
      .catch(() => undefined)
      .then(() => {
        state.next = null;
        return this.start(dir, state);
      });
    return state.next;
  }

  private start(dir: string, s: DirState): Promise<void> {
    const run = this.sync(dir).finally(() => {
      if (s.running === run) s.running = null;
      if (!s.running && !s.next && this.dirs.get(dir) === s) this.dirs.delete(dir);
    });
    s.running = run;
    return run;
  }
}

/**
 * Group commit of index writes: what many files queue in one turn of the event loop commits
 * in one SQLite transaction, each in its own savepoint (one file's failure rolls back only its
 * own writes). Each caller resolves once its writes are committed.
 */
export class TxnGroup {
  private queue: Array<{ fn: () => void; resolve: () => void; reject: (error: unknown) => void }> = [];
  private scheduled = false;

  constructor(private readonly transaction: <T>(fn: () => T) => T) {}

  run(fn: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ fn, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0);
    const failures = new Map<number, unknown>();
    try {
      this.transaction(() => {
        batch.forEach((b, i) => {
          try {
            this.transaction(b.fn);
          } catch (error) {
            failures.set(i, error);
          }
        });
      });
    } catch (error) {
      for (const b of batch) b.reject(error);
      return;
    }
    batch.forEach((b, i) => (failures.has(i) ? b.reject(failures.get(i)) : b.resolve()));
  }
}
