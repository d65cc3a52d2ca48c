import type { RestoreOutcome } from './restore-batch';

/**
 * What this device's restores made: the revisions their answers named, and the paths a restore
 * is on its way for (the server commits before it answers). The pull never takes them for this
 * device's own uploads (docs/conflict-rules.md, O2's notes). Owned by the agent, so an engine
 * rebuilt by a settings save keeps them; in memory, so a restart forgets them.
 */
export class RestoredHere {
  /** Per folder, `path\0revision`, at most KEPT (the oldest dropped). */
  private readonly made = new Map<string, Set<string>>();
  /** Per folder, the paths a restore is on its way for (counted: two may overlap). */
  private readonly underWay = new Map<string, Map<string, number>>();

  has(folderId: string, path: string, revision: string | null): boolean {
    return this.made.get(folderId)?.has(`${path}\0${revision}`) === true || this.underWay.get(folderId)?.has(path) === true;
  }

  /** Runs a restore: its paths marked from when it plans them until its answer names the revisions. */
  async during(folderId: string, run: (onPlanned: (paths: readonly string[]) => void) => Promise<RestoreOutcome>): Promise<RestoreOutcome> {
    let planned: readonly string[] = [];
    const marks = this.underWay.get(folderId) ?? new Map<string, number>();
    this.underWay.set(folderId, marks);
    try {
      const outcome = await run((paths) => {
        planned = paths;
        for (const p of paths) marks.set(p, (marks.get(p) ?? 0) + 1);
      });
      this.remember(folderId, outcome.revisions);
      return outcome;
    } finally {
      for (const p of planned) {
        const n = (marks.get(p) ?? 1) - 1;
        if (n > 0) marks.set(p, n);
        else marks.delete(p);
      }
    }
  }

  private remember(folderId: string, revisions: RestoreOutcome['revisions']): void {
    const keys = this.made.get(folderId) ?? new Set<string>();
    this.made.set(folderId, keys);
    for (const r of revisions) keys.add(`${r.path}\0${r.revision}`);
    for (const key of keys) {
      if (keys.size <= KEPT) break;
      keys.delete(key);
    }
  }
}

/** Far more than a pull lags behind a restore. */
const KEPT = 100_000;
