import type { Operation } from '../protocol';
import type { LostBlocks } from './lost-blocks';
import type { BlockStore, SweepGuard } from './storage/blocks';
import type { SqlDb } from './storage/sql';

/**
 * The fence between garbage collection and commits (docs/sync-api.md, "Retention and garbage
 * collection"): a task holds it from the moment it looks its blocks up until its last
 * operation commits; GC runs only while no task holds it, and tasks wait while GC runs. So a
 * block a commit has found present cannot vanish before the commit refers to it.
 */
export class GcFence {
  private holders = 0;
  private running: Promise<void> | null = null;
  private drained: (() => void) | null = null;

  async enter(): Promise<void> {
    while (this.running) await this.running;
    this.holders++;
  }

  leave(): void {
    this.holders--;
    if (this.holders === 0) this.drained?.();
  }

  async exclusively<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running) await this.running;
    let release!: () => void;
    this.running = new Promise((resolve) => (release = resolve));
    try {
      if (this.holders > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      this.drained = null;
      return await fn();
    } finally {
      this.running = null;
      release();
    }
  }
}

/**
 * The same fence across server processes on one PostgreSQL (server/storage/postgres.ts,
 * postgresGcFence). A batch reads `epoch()` before it looks its blocks up and `epochInCommit()`
 * inside each of its commit transactions; when they differ, a GC ran in between and the commit
 * looks its blocks up again. SQLite has one process: the in-process fence is the whole fence.
 */
export interface SharedGcFence {
  /**
   * Runs a collection holding the lock against every process's commits; the epoch moves first.
   * `stillHeld` throws once the lock is gone (its connection lost): nothing may be removed then.
   */
  exclusively<T>(fn: (stillHeld: SweepGuard) => Promise<T>): Promise<T>;
  /** The epoch now, once no collection runs. */
  epoch(): Promise<number>;
  /** Inside a batch transaction: the epoch, with the lock held shared until the transaction ends. */
  epochInCommit(): Promise<number>;
}

export interface GcReport {
  /** Distinct blocks some retained revision (or a queued task) refers to. */
  liveBlocks: number;
  /** Block files and packed blocks removed. */
  blocksCollected: number;
  packsDeleted: number;
  packsCompacted: number;
  bytesFreed: number;
  /** Bytes of block files and packs after the run. */
  bytesStored: number;
}

export interface GcOptions {
  db: SqlDb;
  blocks: BlockStore;
  /** Lost blocks no retained revision refers to any more are forgotten: nobody needs them back. */
  lost?: Pick<LostBlocks, 'forgetUnless'>;
  fence: GcFence;
  /** Several processes on one PostgreSQL: the cross-process half of the fence. */
  shared?: SharedGcFence | null;
  /** Blocks written or reported present more recently than this are left for the next run. */
  graceMs: number;
  /** A pack whose live bytes are below this share of its size is rewritten. */
  compactBelow?: number;
  now?: () => number;
  /** Test seam: runs after the live set is known, before anything is removed. */
  afterMark?: () => Promise<void>;
}

/**
 * Collects blocks no retained revision refers to: loose block files and packed blocks, and
 * rewrites packs that are mostly garbage. Safe against uploads in flight three ways: the
 * fence (no commit between its block lookup and its commit while GC runs), a grace period
 * (nothing written or reported present within `graceMs` is collected), and the commit's own
 * re-check (a block collected anyway answers `missing_blocks`, and the client uploads it again).
 */
export async function collectGarbage(o: GcOptions): Promise<GcReport> {
  const now = (o.now ?? Date.now)();
  const cutoff = now - o.graceMs;
  const shared = o.shared;
  return o.fence.exclusively(() => (shared ? shared.exclusively((stillHeld) => collect(o, cutoff, stillHeld)) : collect(o, cutoff)));
}

async function collect(o: GcOptions, cutoff: number, stillHeld?: SweepGuard): Promise<GcReport> {
  const live = await liveBlocks(o.db);
  const recent = o.blocks.touchedSince(cutoff);
  const keep = (hash: string) => live.has(hash) || recent.has(hash);
  await o.afterMark?.();
  const report: GcReport = { liveBlocks: live.size, blocksCollected: 0, packsDeleted: 0, packsCompacted: 0, bytesFreed: 0, bytesStored: 0 };
  await o.blocks.sweep(keep, cutoff, report, o.compactBelow, stillHeld);
  await o.lost?.forgetUnless((hash) => live.has(hash));
  return report;
}

/** Every block a retained revision refers to, and those of batches not yet applied. */
async function liveBlocks(db: SqlDb): Promise<Set<string>> {
  const live = new Set<string>();
  for (const row of await db.all<{ blocks: string }>("SELECT DISTINCT blocks FROM versions WHERE blocks != '[]'")) {
    for (const h of JSON.parse(row.blocks) as string[]) live.add(h);
  }
  for (const row of await db.all<{ operations: string }>("SELECT operations FROM tasks WHERE status IN ('Queued', 'Processing')")) {
    for (const op of JSON.parse(row.operations) as Operation[]) if (op.action === 'upsert') for (const h of op.blocks ?? []) live.add(h);
  }
  return live;
}

