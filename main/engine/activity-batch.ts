import type { Logger } from '../logging';
import type { ActivityRepo, NewActivity } from '../store/activity';

/**
 * Activity lines written together once the event loop turns: one commit for a burst (a pull's
 * downloads, a push batch's uploads) instead of one per file (here about 17 µs a line on its
 * own, 2 in a commit of 500). A kill may lose the last turn's lines; the files, the queue and
 * the index do not depend on them.
 */
export class ActivityBatch {
  private pending: NewActivity[] = [];
  private scheduled: NodeJS.Immediate | null = null;

  /** `revise`: last words on the lines of a turn before they are written (looked up for the whole batch at once). */
  constructor(
    private readonly activity: Pick<ActivityRepo, 'addMany'>,
    private readonly log: Logger,
    private readonly revise?: (entries: NewActivity[]) => void,
  ) {}

  add(entry: NewActivity): void {
    this.pending.push(entry);
    this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Writes what waits now (before a finished pull is announced, at a stop). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    const entries = this.pending;
    this.pending = [];
    // A line that cannot be written (a state database on a full disk) must not fail the work
    // or keep its failure from being reported: the log is a record, not part of the work.
    try {
      this.revise?.(entries);
    } catch (error) {
      // Last words only: the plain lines are written all the same.
      this.log.warn('could not revise activity lines', { lines: entries.length, error: error instanceof Error ? error.message : String(error) });
    }
    try {
      this.activity.addMany(entries);
    } catch (error) {
      this.log.warn('could not write to the activity log', { lines: entries.length, error: error instanceof Error ? error.message : String(error) });
    }
  }
}
