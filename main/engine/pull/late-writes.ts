import type { Logger } from '../../logging';

/** How long a file a download replaced stays linked after the download is recorded. */
export const LATE_WRITE_GRACE_MS = 3000;

/**
 * Files a download replaced (U5), kept linked in `.ferry/tmp` for a while after the download is
 * recorded: a program that had one open may still be writing into it (docs/conflict-rules.md,
 * "the re-check before the final rename"). Each is looked at again after the grace, before the
 * next pull of its folder (whose start clears the temp folder) or when the puller stops,
 * whichever comes first; the check makes a conflict copy of what was written, or removes the file.
 */
export class LateWrites {
  private readonly pending = new Map<string, Set<Watched>>();
  /** Checks under way (their timer fired): a flush waits for them too. */
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly log: Logger,
    private readonly graceMs = LATE_WRITE_GRACE_MS,
  ) {}

  watch(folderId: string, check: () => Promise<unknown>): void {
    const mine = this.pending.get(folderId) ?? new Set();
    this.pending.set(folderId, mine);
    const item: Watched = { timer: setTimeout(() => void this.run(folderId, item), this.graceMs), check };
    // A process that exits without stopping the puller leaves the file to the next start's cleanup.
    item.timer.unref?.();
    mine.add(item);
  }

  /** Looks at every file of the folder (all folders: undefined) now. */
  async flush(folderId?: string): Promise<void> {
    const folders = folderId === undefined ? [...this.pending.keys()] : [folderId];
    for (const id of folders) for (const item of [...(this.pending.get(id) ?? [])]) await this.run(id, item);
    await Promise.all(this.running);
  }

  private run(folderId: string, item: Watched): Promise<void> {
    const mine = this.pending.get(folderId);
    if (!mine?.delete(item)) return Promise.resolve();
    clearTimeout(item.timer);
    if (mine.size === 0) this.pending.delete(folderId);
    const done = item.check().then(
      () => undefined,
      (error: unknown) => {
        // The file stays in the temp folder; the next pull's start clears it.
        this.log.warn('a file a download replaced could not be looked at again', { folder: folderId, error: (error as Error).message });
      },
    );
    this.running.add(done);
    return done.finally(() => this.running.delete(done));
  }
}

interface Watched {
  timer: ReturnType<typeof setTimeout>;
  check: () => Promise<unknown>;
}
