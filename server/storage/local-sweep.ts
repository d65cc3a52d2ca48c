import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { LocalBlockStore, SweepGuard, SweepReport } from './blocks';

const SHARD = /^[0-9a-f]{2}$/;

/** Garbage collection of the data directory's blocks: loose block files, then packs (server/gc.ts decides what is live). */
export async function sweepLocal(
  blocks: LocalBlockStore,
  keep: (hash: string) => boolean,
  cutoff: number,
  report: SweepReport,
  compactBelow = 0.5,
  stillHeld: SweepGuard = async () => undefined,
): Promise<void> {
  await sweepFiles(blocks, keep, cutoff, report, stillHeld);
  if (blocks.db) await sweepPacks(blocks, keep, cutoff, report, compactBelow, stillHeld);
}

async function sweepFiles(blocks: LocalBlockStore, keep: (hash: string) => boolean, cutoff: number, report: SweepReport, stillHeld: SweepGuard): Promise<void> {
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
        await stillHeld();
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

async function sweepPacks(blocks: LocalBlockStore, keep: (hash: string) => boolean, cutoff: number, report: SweepReport, compactBelow: number, stillHeld: SweepGuard): Promise<void> {
  const placedSince = blocks.beginSweep();
  try {
    await sweepPacksRead(blocks, placedSince, keep, cutoff, report, compactBelow, stillHeld);
  } finally {
    blocks.endSweep();
  }
}

async function sweepPacksRead(
  blocks: LocalBlockStore,
  placedSince: ReadonlySet<string>,
  keep: (hash: string) => boolean,
  cutoff: number,
  report: SweepReport,
  compactBelow: number,
  stillHeld: SweepGuard,
): Promise<void> {
  const db = blocks.db!;
  const { packDir, tmpDir } = blocks.layout;
  const rows = await db.all<PackedRow>('SELECT hash, pack, "offset", size FROM packed_blocks ORDER BY pack, "offset"');
  const byPack = new Map<string, PackedRow[]>();
  for (const row of rows) {
    const list = byPack.get(row.pack) ?? [];
    list.push(row);
    byPack.set(row.pack, list);
  }
  const dropRow = (r: PackedRow) => db.run('DELETE FROM packed_blocks WHERE hash = ? AND pack = ?', [r.hash, r.pack]);
  for (const name of await fs.readdir(packDir)) {
    const file = path.join(packDir, name);
    const stat = await fs.stat(file);
    const inPack = byPack.get(name) ?? [];
    // A pack newer than the grace period, one whose rows are being written now, and one whose
    // rows were written after they were read above are left alone: with no grace period, only
    // the last two hold (chaos seeds 2 and 8532, --gc: each lost a pack whose rows then named it).
    if (stat.mtimeMs >= cutoff || blocks.isPlacing(name) || placedSince.has(name)) {
      report.bytesStored += stat.size;
      continue;
    }
    const dead = inPack.filter((r) => !keep(r.hash));
    const alive = inPack.filter((r) => keep(r.hash));
    if (dead.length > 0) await stillHeld();
    if (alive.length === 0) {
      await db.tx(async () => {
        for (const r of dead) await dropRow(r);
      });
      await fs.rm(file, { force: true });
      report.packsDeleted++;
      report.blocksCollected += dead.length;
      report.bytesFreed += stat.size;
      continue;
    }
    const liveBytes = alive.reduce((sum, r) => sum + r.size, 0);
    if (dead.length === 0 || liveBytes >= stat.size * compactBelow) {
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
    await db.tx(async () => {
      for (const r of dead) await dropRow(r);
      for (const r of moved) await db.run('UPDATE packed_blocks SET pack = ?, "offset" = ? WHERE hash = ?', [r.pack, r.offset, r.hash]);
    });
    await fs.rm(file, { force: true });
    report.packsCompacted++;
    report.blocksCollected += dead.length;
    report.bytesFreed += stat.size - liveBytes;
    report.bytesStored += liveBytes;
  }
}
