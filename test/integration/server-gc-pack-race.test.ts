import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GcFence, collectGarbage } from '../../server/gc';
import { LocalBlockStore } from '../../server/storage/blocks';
import { openSqliteMetadata } from '../../server/storage/db';
import type { SqlDb } from '../../server/storage/sql';
import { sha256 } from '../helpers/server-harness';
import { waitFor } from '../helpers/wait';

// Chaos seed 2 with --gc (two devices; GC every second, no grace period), one run in three:
// dev-a never pulled 9 files the server listed. A batch upload of small blocks goes to one
// pack: the pack is renamed into place, then its rows are written. GC that read the pack rows
// between the two found a pack with no rows, took it for garbage and removed it; the rows
// then written said the blocks were stored, so the commits that followed referred to blocks
// whose bytes were gone, and every download of them failed. What is refused: a pack removed
// while its rows are being written (a stored block that cannot be read).
describe('chaos seed 2 (--gc): garbage collection against a pack being placed', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('never removes a pack whose rows are not written yet; its blocks stay readable', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-gc-pack-'));
    dirs.push(dir);
    const real = openSqliteMetadata(dir);
    // The pack's rows wait at this gate, after the pack file is in place (the real order).
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let rowsWaiting = false;
    const db: SqlDb = new Proxy(real, {
      get(target, key, receiver) {
        if (key === 'tx') {
          return async <T>(fn: () => Promise<T>): Promise<T> => {
            if (!rowsWaiting && readdirSync(path.join(dir, 'blocks', 'packs')).length > 0) {
              rowsWaiting = true;
              await gate;
            }
            return target.tx(fn);
          };
        }
        const value = Reflect.get(target, key, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const blocks = new LocalBlockStore(dir, db);
    await blocks.init();
    const data = [randomBytes(3000), randomBytes(4000)];
    const writing = blocks.writeVerified(data.map((d) => ({ hash: sha256(d), data: d })));
    await waitFor(() => rowsWaiting, { timeoutMs: 10_000, message: 'the pack placed, its rows waiting' });

    // GC with no grace period, its cutoff after the pack was written: nothing refers to the blocks yet.
    await collectGarbage({ db, blocks, fence: new GcFence(), graceMs: 0, now: () => Date.now() + 1000 });
    open();
    expect(await writing).toEqual([true, true]);
    const read = await blocks.readMany(data.map((d) => sha256(d)), 1 << 20);
    expect(read.map((b) => b && sha256(b))).toEqual(data.map((d) => sha256(d)));
    await real.close();
  });

  // Chaos seed 8532 (npm run chaos -- --seed 8532 --ops 60 --devices 2 --gc): dev-a's pulls
  // failed for the whole settle with a 500 (ENOENT of a pack). GC read the pack rows, an upload
  // then placed its pack and wrote its rows, and GC reached that pack with the rows it had read:
  // none for it, so it removed the file. Its row said the block was stored; the commit that
  // followed referred to it, and every download of it failed. What is refused: a row naming a
  // pack that is gone (a block the server says it has and cannot read).
  it('never removes a pack whose rows were written after it read the rows (chaos seed 8532)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-gc-pack-'));
    dirs.push(dir);
    const real = openSqliteMetadata(dir);
    const data = [randomBytes(3000), randomBytes(4000)];
    const late: { blocks?: LocalBlockStore } = {};
    let uploaded: Promise<boolean[]> | undefined;
    // Right after GC read the pack rows, the upload runs to its end: pack in place, rows written.
    const db: SqlDb = new Proxy(real, {
      get(target, key, receiver) {
        if (key === 'all') {
          return async (sql: string, params?: unknown[]) => {
            const rows = await target.all(sql, params as never);
            if (!uploaded && sql.includes('FROM packed_blocks')) {
              uploaded = late.blocks!.writeVerified(data.map((d) => ({ hash: sha256(d), data: d })));
              await uploaded;
            }
            return rows;
          };
        }
        const value = Reflect.get(target, key, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const blocks = new LocalBlockStore(dir, db);
    late.blocks = blocks;
    await blocks.init();
    // No grace period, a cutoff after the pack was written, and nothing refers to the blocks yet.
    await collectGarbage({ db, blocks, fence: new GcFence(), graceMs: 0, now: () => Date.now() + 1000 });
    expect(await uploaded).toEqual([true, true]);
    // What the server says it stores, it can read: a commit may refer to it now.
    const hashes = data.map((d) => sha256(d));
    const stored = [...(await blocks.sizes(hashes)).keys()];
    expect(stored.sort()).toEqual([...hashes].sort());
    const read = await blocks.readMany(hashes, 1 << 20).catch((error: unknown) => String(error));
    expect(Array.isArray(read) ? read.map((b) => b && sha256(b)) : read).toEqual(hashes);
    await real.close();
  });

  // The same run, on the reading side: one unreadable block made the whole batch fetch a 500,
  // so every file of dev-a's pull failed with it, not just the one that needed the block.
  /** Three blocks: `lost`'s pack removed, and the first look at `moved`'s row naming a pack compacted away. */
  async function storeWithGoneAndCompacted() {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-gc-pack-'));
    dirs.push(dir);
    const real = openSqliteMetadata(dir);
    const [lost, kept, moved] = [randomBytes(3000), randomBytes(4000), randomBytes(5000)];
    // The first look at `moved`'s row sees the pack it was in before a compaction.
    const stale = { once: true };
    const db: SqlDb = new Proxy(real, {
      get(target, key, receiver) {
        if (key === 'get') {
          return async (sql: string, params?: unknown[]) => {
            const row = await target.get(sql, params as never);
            if (stale.once && sql.includes('FROM packed_blocks') && params?.[0] === sha256(moved)) {
              stale.once = false;
              return { ...(row as object), pack: 'compacted-away.pack' };
            }
            return row;
          };
        }
        const value = Reflect.get(target, key, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const blocks = new LocalBlockStore(dir, db);
    await blocks.init();
    const packs = path.join(dir, 'blocks', 'packs');
    expect(await blocks.writeVerified([{ hash: sha256(lost), data: lost }])).toEqual([true]);
    const [lostPack] = readdirSync(packs);
    expect(await blocks.writeVerified([kept, moved].map((d) => ({ hash: sha256(d), data: d })))).toEqual([true, true]);
    rmSync(path.join(packs, lostPack!));
    return { blocks, lost, kept, moved, stale, close: () => real.close() };
  }

  it('a batch fetch answers a block whose pack is gone as absent and reads the rest; a block compacted meanwhile is read where its row now says', async () => {
    const { blocks, lost, kept, moved, stale, close } = await storeWithGoneAndCompacted();
    const read = await blocks.readMany([lost, kept, moved].map((d) => sha256(d)), 1 << 20);
    expect(read.map((b) => b && sha256(b))).toEqual([null, sha256(kept), sha256(moved)]);
    expect(stale.once).toBe(false);
    // Its row went with it: the block reads as not stored, so a device can upload it again.
    expect(await blocks.missing([lost, kept, moved].map((d) => sha256(d)))).toEqual([sha256(lost)]);
    expect(await blocks.writeVerified([{ hash: sha256(lost), data: lost }])).toEqual([true]);
    expect((await blocks.readMany([sha256(lost)], 1 << 20)).map((b) => b && sha256(b))).toEqual([sha256(lost)]);
    await close();
  });

  it('a read that finds a pack gone tells of every block the pack held, not only the one it asked for: one round brings them all back', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-gc-pack-'));
    dirs.push(dir);
    const db = openSqliteMetadata(dir);
    const blocks = new LocalBlockStore(dir, db);
    const told: string[][] = [];
    blocks.onLost = async (hashes) => void told.push(hashes);
    await blocks.init();
    const [one, two] = [randomBytes(1000), randomBytes(2000)];
    expect(await blocks.writeVerified([one, two].map((d) => ({ hash: sha256(d), data: d })))).toEqual([true, true]);
    const packs = path.join(dir, 'blocks', 'packs');
    for (const pack of readdirSync(packs)) rmSync(path.join(packs, pack));
    expect(await blocks.readMany([sha256(one)], 1 << 20)).toEqual([null]);
    expect(told.map((h) => [...h].sort())).toEqual([[sha256(one), sha256(two)].sort()]);
    expect((await blocks.missing([sha256(one), sha256(two)])).sort()).toEqual([sha256(one), sha256(two)].sort());
    await db.close();
  });

  it('a single block read (GET /v1/blocks/{hash}) answers a gone pack as not there before any reply is sent, never a stream that breaks after its headers; a compacted one is read where its row now says', async () => {
    const { blocks, lost, kept, moved, stale, close } = await storeWithGoneAndCompacted();
    expect(await blocks.open(sha256(lost))).toBeNull();
    expect(await blocks.missing([sha256(lost)])).toEqual([sha256(lost)]);
    for (const data of [kept, moved]) {
      const got = await blocks.open(sha256(data));
      expect(got?.size).toBe(data.length);
      const chunks: Buffer[] = [];
      for await (const chunk of got!.stream) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).equals(data)).toBe(true);
    }
    expect(stale.once).toBe(false);
    await close();
  });
});
