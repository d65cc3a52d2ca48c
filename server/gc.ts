import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Operation } from '../protocol';
import type { BlockStore } from './storage/blocks';
import type { Db } from './storage/db';

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
  db: Db;
  blocks: BlockStore;
  fence: GcFence;
  /** Blocks written or reported present more recently than this are left for the next run. */
  graceMs: number;
  /** A pack whose live bytes are below this share of its size is rewritten. */
  compactBelow?: number;
  now?: () => number;
  /** Test seam: runs after the live set is known, before anything is removed. */
  afterMark?: () => Promise<void>;
}

const SHARD = /^[0-9a-f]{2}$/;

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
  return o.fence.exclusively(async () => {
    const live = liveBlocks(o.db);
    const recent = o.blocks.touchedSince(cutoff);
    const keep = (hash: string) => live.has(hash) || recent.has(hash);
    await o.afterMark?.();
    const report: GcReport = { liveBlocks: live.size, blocksCollected: 0, packsDeleted: 0, packsCompacted: 0, bytesFreed: 0, bytesStored: 0 };
    await sweepFiles(o.blocks, keep, cutoff, report);
    await sweepPacks(o, keep, cutoff, report);
    return report;
  });
}

/** Every block a retained revision refers to, and those of batches not yet applied. */
function liveBlocks(db: Db): Set<string> {
  const live = new Set<string>();
  for (const row of db.prepare<[], { blocks: string }>("SELECT DISTINCT blocks FROM versions WHERE blocks != '[]'").iterate()) {
    for (const h of JSON.parse(row.blocks) as string[]) live.add(h);
  }
  for (const row of db.prepare<[], { operations: string }>("SELECT operations FROM tasks WHERE status IN ('Queued', 'Processing')").iterate()) {
    for (const op of JSON.parse(row.operations) as Operation[]) if (op.action === 'upsert') for (const h of op.blocks ?? []) live.add(h);
  }
  return live;
}

async function sweepFiles(blocks: BlockStore, keep: (hash: string) => boolean, cutoff: number, report: GcReport): Promise<void> {
  const { root } = blocks.layout;
  for (const a of await fs.readdir(root)) {
    if (!SHARD.test(a)) continue;
    for (const b of await fs.readdir(path.join(root, a))) {
      const dir = path.join(root, a, b);
      for (const name of await fs.readdir(dir)) {
        const file = path.join(dir, name);
        const stat = await fs.stat(file);
        if (keep(name) || stat.mtimeMs >= cutoff) {
          report.bytesStored += stat.size;
          continue;
        }
        await fs.rm(file, { force: true });
        report.blocksCollected++;
        report.bytesFreed += stat.size;
      }
    }
  }
}

interface PackedRow {
  hash: string;
  pack: string;
  offset: number;
  size: number;
}

async function sweepPacks(o: GcOptions, keep: (hash: string) => boolean, cutoff: number, report: GcReport): Promise<void> {
  const { db, blocks } = o;
  const { packDir, tmpDir } = blocks.layout;
  const rows = db.prepare<[], PackedRow>('SELECT hash, pack, offset, size FROM packed_blocks ORDER BY pack, offset').all();
  const byPack = new Map<string, PackedRow[]>();
  for (const row of rows) {
    const list = byPack.get(row.pack) ?? [];
    list.push(row);
    byPack.set(row.pack, list);
  }
  const dropRows = db.prepare<[string, string]>('DELETE FROM packed_blocks WHERE hash = ? AND pack = ?');
  for (const name of await fs.readdir(packDir)) {
    const file = path.join(packDir, name);
    const stat = await fs.stat(file);
    const inPack = byPack.get(name) ?? [];
    // A pack newer than the grace period may belong to an upload whose rows are being written.
    if (stat.mtimeMs >= cutoff) {
      report.bytesStored += stat.size;
      continue;
    }
    const dead = inPack.filter((r) => !keep(r.hash));
    const alive = inPack.filter((r) => keep(r.hash));
    if (alive.length === 0) {
      db.transaction(() => dead.forEach((r) => dropRows.run(r.hash, r.pack)))();
      await fs.rm(file, { force: true });
      report.packsDeleted++;
      report.blocksCollected += dead.length;
      report.bytesFreed += stat.size;
      continue;
    }
    const liveBytes = alive.reduce((sum, r) => sum + r.size, 0);
    if (dead.length === 0 || liveBytes >= stat.size * (o.compactBelow ?? 0.5)) {
      report.bytesStored += stat.size;
      continue;
    }
    // Mostly garbage: copy the live blocks into a new pack (fsynced, renamed, directory synced),
    // point their rows at it in one transaction, and only then remove the old pack.
    const fresh = `${randomUUID()}.pack`;
    const tmp = path.join(tmpDir, fresh);
    const source = await fs.open(file, 'r');
    const target = await fs.open(tmp, 'wx', 0o600);
    const moved: PackedRow[] = [];
    try {
      let offset = 0;
      for (const r of alive) {
        const data = Buffer.alloc(r.size);
        await source.read(data, 0, r.size, r.offset);
        await target.write(data);
        moved.push({ ...r, pack: fresh, offset });
        offset += r.size;
      }
      await target.sync();
    } finally {
      await source.close();
      await target.close();
    }
    await fs.rename(tmp, path.join(packDir, fresh));
    const dirHandle = await fs.open(packDir, 'r');
    await dirHandle.sync();
    await dirHandle.close();
    const repoint = db.prepare<[string, number, string]>('UPDATE packed_blocks SET pack = ?, offset = ? WHERE hash = ?');
    db.transaction(() => {
      dead.forEach((r) => dropRows.run(r.hash, r.pack));
      moved.forEach((r) => repoint.run(r.pack, r.offset, r.hash));
    })();
    await fs.rm(file, { force: true });
    report.packsCompacted++;
    report.blocksCollected += dead.length;
    report.bytesFreed += stat.size - liveBytes;
    report.bytesStored += liveBytes;
  }
}
