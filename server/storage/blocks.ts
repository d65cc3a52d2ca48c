import { createHash, randomUUID } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, fsync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BLOCK_SIZE, FerryError } from '../../protocol';
import { createLogger } from '../../main/logging';
import type { SqlDb } from './sql';
import { sweepLocal } from './local-sweep';

const log = createLogger('blocks');

/** The block files and packs of a data directory. */
export const blocksDir = (dataDir: string): string => path.join(dataDir, 'blocks');

/**
 * Content-addressed blocks: one file per block under `<dataDir>/blocks/ab/cd/<sha256>`
 * (`PUT /v1/blocks/{hash}`), or, for small blocks uploaded together (`POST /v1/blocks/batch`),
 * one pack file per batch under `<dataDir>/blocks/packs/` with a `packed_blocks` row per block.
 *
 * Durability (what a crash may and may not do):
 * - Every byte is verified and **fsynced** in a temp file before it is renamed into place, so
 *   a block file or pack that exists is complete and correct, even after a power cut.
 * - A packed block is known only through its row, inserted after its pack is fsynced. The
 *   database is WAL: a later commit (the batch that references the block) can only survive a
 *   crash together with every transaction before it, rows included.
 * - Renames (directory entries) are made durable lazily: every directory touched by a rename
 *   (and the parent of every directory created) is remembered, and `persist()` fsyncs them
 *   together. The task runner calls `persist()` before it commits any batch, so **a committed
 *   file version never references a block that a crash could lose**. A crash before that may
 *   lose an acknowledged upload: the block then reads as missing (never as wrong), the
 *   commit answers `missing_blocks`, and the client uploads it again.
 * - Cost: a batch of hundreds of small blocks is one pack write, one file fsync and one
 *   transaction; a commit adds one fsync per directory touched since the last one.
 */
/**
 * Where the server keeps block content (docs/architecture.md, "Server storage"): the data
 * directory (LocalBlockStore, below) or an S3-compatible bucket (server/storage/s3-blocks.ts).
 * Blocks are immutable and addressed by their SHA-256; every write is verified first.
 */
export interface BlockStore {
  init(): Promise<void>;
  /** Throws unless the store can be reached and written now (`/readyz`); cheap. */
  probe(): Promise<void>;
  /** A client was just told this block is here: a commit may refer to it soon. */
  touch(hashes: Iterable<string>, now?: number): void;
  /** Touched at or after `since`; older marks are forgotten. */
  touchedSince(since: number): Set<string>;
  /** The block's size, or null when it is not stored. */
  sizeOf(hash: string): Promise<number | null>;
  missing(hashes: readonly string[]): Promise<string[]>;
  /** Sizes of the given blocks; absent ones are left out of the map. */
  sizes(hashes: Iterable<string>): Promise<Map<string, number>>;
  write(hash: string, body: AsyncIterable<Uint8Array>, maxBytes?: number): Promise<{ size: number; stored: boolean }>;
  /** Stores blocks whose content the caller checked against their hashes; true for each one newly stored. */
  writeVerified(blocks: ReadonlyArray<{ hash: string; data: Uint8Array }>): Promise<boolean[]>;
  /** Makes every write so far durable before a commit refers to it. */
  persist(): Promise<void>;
  open(hash: string): Promise<{ size: number; stream: Readable } | null>;
  /** Blocks in order for a fetch reply (null for one not stored), stopping before the one that would pass maxBytes. */
  readMany(hashes: readonly string[], maxBytes: number): Promise<Array<Buffer | null>>;
  /**
   * Garbage collection's sweep: removes blocks older than `cutoff` that `keep` does not want
   * (server/gc.ts). `stillHeld` is asked before each removal and throws once the run's
   * cross-process lock is gone: what `keep` was built from may be stale by then.
   */
  sweep(keep: (hash: string) => boolean, cutoff: number, report: SweepReport, compactBelow?: number, stillHeld?: SweepGuard): Promise<void>;
  /** Lets go of connections (the server is stopping). */
  close?(): void;
  /** Told of blocks a read found gone beyond those it asked for (a lost pack takes all of its own). */
  onLost?: (hashes: string[]) => Promise<void>;
}

/** Throws when a sweep may no longer remove anything (server/gc.ts, the shared fence). */
export type SweepGuard = () => Promise<void>;

/** What a sweep counts (server/gc.ts adds the live set). */
export interface SweepReport {
  blocksCollected: number;
  packsDeleted: number;
  packsCompacted: number;
  bytesFreed: number;
  bytesStored: number;
}

/**
 * What every block store answers the same way from its own `sizeOf`: which blocks are missing
 * and their sizes (each distinct hash looked up once, `lookups` at a time), and the marks of
 * blocks reported present or uploaded again, which GC leaves alone for its grace period.
 */
export abstract class BlockLookups {
  private readonly touchedAt = new Map<string, number>();

  /** `lookups`: how many `sizeOf` calls may run at once (a disk takes more than a bucket). */
  constructor(private readonly lookups: number) {}

  /** The block's size, or null when it is not stored. */
  abstract sizeOf(hash: string): Promise<number | null>;

  /** The blocks not stored; the present ones are touched (a commit may refer to them soon). */
  async missing(hashes: readonly string[]): Promise<string[]> {
    const unique = [...new Set(hashes)];
    const sizes = await this.sizesOf(unique);
    this.touch(unique.filter((_, i) => sizes[i] !== null));
    return unique.filter((_, i) => sizes[i] === null);
  }

  /** The size of each distinct block, null when it is not stored: `sizeOf`, `lookups` at a time. */
  protected sizesOf(unique: readonly string[]): Promise<Array<number | null>> {
    return mapLimited(unique, this.lookups, (h) => this.sizeOf(h));
  }

  /** Sizes of the given blocks; absent ones are left out of the map. */
  async sizes(hashes: Iterable<string>): Promise<Map<string, number>> {
    const unique = [...new Set(hashes)];
    const sizes = await this.sizesOf(unique);
    const out = new Map<string, number>();
    unique.forEach((h, i) => {
      const size = sizes[i];
      if (size !== null && size !== undefined) out.set(h, size);
    });
    return out;
  }

  touch(hashes: Iterable<string>, now = Date.now()): void {
    for (const h of hashes) this.touchedAt.set(h, now);
  }

  touchedSince(since: number): Set<string> {
    const out = new Set<string>();
    for (const [h, at] of this.touchedAt) {
      if (at >= since) out.add(h);
      else this.touchedAt.delete(h);
    }
    return out;
  }
}

export class LocalBlockStore extends BlockLookups implements BlockStore {
  private readonly root: string;
  private readonly tmpDir: string;
  /** Shard directories known to exist (no mkdir per block). */
  private readonly knownDirs = new Set<string>();
  /** Directories with entries not yet fsynced; persist() syncs them. */
  private dirty = new Set<string>();
  private flushing: Promise<void> | null = null;
  private nextFlush: Promise<void> | null = null;

  private readonly packDir: string;
  onLost?: (hashes: string[]) => Promise<void>;
  /** Without a database, batches are stored as one file per block (tests of the layout). */
  constructor(
    dataDir: string,
    readonly db?: SqlDb,
  ) {
    super(64);
    this.root = blocksDir(dataDir);
    this.tmpDir = path.join(this.root, 'tmp');
    this.packDir = path.join(this.root, 'packs');
  }

  private packedRow(hash: string): Promise<{ pack: string; offset: number; size: number } | undefined> {
    if (!this.db) return Promise.resolve(undefined);
    return this.db.get('SELECT pack, "offset", size FROM packed_blocks WHERE hash = ?', [hash]);
  }

  /**
   * A read found the block's pack gone while its row still names it: the bytes are lost. The
   * rows naming that pack go, so its blocks read as not stored, and a device holding the
   * bytes can upload them again (server/lost-blocks.ts).
   */
  private async lostFrom(hash: string, pack: string): Promise<void> {
    log.error('a stored block cannot be read: its pack is gone', { hash, pack });
    // Every block of the pack went with it: all are told of now, not one per device's miss.
    const rows = (await this.db?.all<{ hash: string }>('DELETE FROM packed_blocks WHERE pack = ? RETURNING hash', [pack])) ?? [];
    if (rows.length > 0) await this.onLost?.(rows.map((r) => r.hash));
  }

  async init(): Promise<void> {
    await fs.mkdir(this.tmpDir, { recursive: true });
    await fs.mkdir(this.packDir, { recursive: true });
    this.knownDirs.add(this.packDir);
    // Leftovers of uploads cut short by a crash.
    for (const name of await fs.readdir(this.tmpDir)) await fs.rm(path.join(this.tmpDir, name), { force: true });
  }

  async probe(): Promise<void> {
    await fs.access(this.tmpDir, fsConstants.W_OK);
  }

  /** Where block files and packs live, for garbage collection (server/gc.ts). */
  get layout(): { root: string; packDir: string; tmpDir: string } {
    return { root: this.root, packDir: this.packDir, tmpDir: this.tmpDir };
  }

  /** Packs written but whose rows are not yet: in place without rows, yet not garbage. */
  private readonly placing = new Set<string>();

  /** True while the pack's rows are being written (sweepPacks leaves it alone). */
  isPlacing(pack: string): boolean {
    return this.placing.has(pack);
  }

  /** Packs whose rows were written since the running sweep began (null: no sweep runs). */
  private placedDuringSweep: Set<string> | null = null;

  /**
   * A sweep begins, before it reads the pack rows: the packs whose rows are written from now on
   * are not in what it read, and it must leave them alone (chaos seed 8532, --gc: it took one for
   * a pack without rows and removed it). The set grows until `endSweep`.
   */
  beginSweep(): ReadonlySet<string> {
    this.placedDuringSweep = new Set();
    return this.placedDuringSweep;
  }

  endSweep(): void {
    this.placedDuringSweep = null;
  }

  sweep(keep: (hash: string) => boolean, cutoff: number, report: SweepReport, compactBelow?: number, stillHeld?: SweepGuard): Promise<void> {
    return sweepLocal(this, keep, cutoff, report, compactBelow, stillHeld);
  }

  pathOf(hash: string): string {
    return path.join(this.root, hash.slice(0, 2), hash.slice(2, 4), hash);
  }

  /**
   * Many blocks in one statement per 500 (a batch upload asks about hundreds; a statement each
   * cost more than the upload), then the loose files of those not in a pack.
   */
  protected override async sizesOf(unique: readonly string[]): Promise<Array<number | null>> {
    const packed = new Map<string, number>();
    if (this.db) {
      const list = this.db.dialect === 'postgres' ? 'SELECT json_array_elements_text(?::json)' : 'SELECT value FROM json_each(?)';
      for (let i = 0; i < unique.length; i += 500) {
        const rows = await this.db.all<{ hash: string; size: number }>(`SELECT hash, size FROM packed_blocks WHERE hash IN (${list})`, [JSON.stringify(unique.slice(i, i + 500))]);
        for (const row of rows) packed.set(row.hash, Number(row.size));
      }
    }
    return unique.map((h) => packed.get(h) ?? looseSize(this.pathOf(h)));
  }

  /** The block's size, or null when it is not stored. */
  async sizeOf(hash: string): Promise<number | null> {
    const row = await this.packedRow(hash);
    return row ? row.size : looseSize(this.pathOf(hash));
  }

  async write(hash: string, body: AsyncIterable<Uint8Array>, maxBytes = BLOCK_SIZE): Promise<{ size: number; stored: boolean }> {
    const tmp = path.join(this.tmpDir, randomUUID());
    const handle = await fs.open(tmp, 'wx', 0o600);
    const digest = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of body) {
        const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        size += buf.length;
        if (size > maxBytes) throw new FerryError('payload_too_large', `A block holds at most ${maxBytes} bytes`, { status: 413 });
        digest.update(buf);
        await writeAll(handle, buf, size - buf.length);
      }
      const actual = digest.digest('hex');
      if (actual !== hash) {
        throw new FerryError('hash_mismatch', `Block content hashes to ${actual}, not ${hash}`, { status: 422, details: { hash } });
      }
      // Held whole already; a block file of another size is damaged and replaced (docs/sync-api.md, "Lost blocks").
      if ((await this.sizeOf(hash)) === size) {
        this.touch([hash]);
        await handle.close();
        await fs.rm(tmp, { force: true });
        return { size, stored: false };
      }
      await handle.sync();
      await handle.close();
      this.place(tmp, hash);
      return { size, stored: true };
    } catch (error) {
      await handle.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw error;
    }
  }

  /**
   * Stores many blocks whose content the caller has already checked against their hashes:
   * each goes to its own temp file, all temp files are fsynced together (the disk batches
   * them), then each is renamed into place. Blocks already stored are left alone.
   */
  async writeVerified(blocks: ReadonlyArray<{ hash: string; data: Uint8Array }>): Promise<boolean[]> {
    return this.db ? this.writePack(blocks) : this.writeFiles(blocks);
  }

  /** Stores the blocks not yet stored in one pack: write, fsync, rename, then one transaction of rows. */
  private async writePack(blocks: ReadonlyArray<{ hash: string; data: Uint8Array }>): Promise<boolean[]> {
    const stored = blocks.map(() => false);
    const take: Array<{ index: number; hash: string; data: Uint8Array; offset: number }> = [];
    const seen = new Set<string>();
    const unique = [...new Set(blocks.map((b) => b.hash))];
    const sizes = await this.sizesOf(unique);
    const length = new Map(blocks.map((b) => [b.hash, b.data.length]));
    // Held whole already; one of another size is damaged and written again (docs/sync-api.md, "Lost blocks").
    const present = new Set(unique.filter((h, i) => sizes[i] === length.get(h)));
    this.touch(present);
    let offset = 0;
    for (const [index, { hash, data }] of blocks.entries()) {
      if (seen.has(hash) || present.has(hash)) continue;
      seen.add(hash);
      take.push({ index, hash, data, offset });
      offset += data.length;
    }
    if (take.length === 0) return stored;
    const name = `${randomUUID()}.pack`;
    const tmp = path.join(this.tmpDir, name);
    // From its rename to its rows a pack has no rows: garbage collection must not take it for
    // an orphan (chaos seed 2, --gc: it removed one, and the rows then written named bytes gone).
    this.placing.add(name);
    try {
      await this.placePack(name, tmp, take, offset);
    } finally {
      this.placing.delete(name);
      this.placedDuringSweep?.add(name);
    }
    for (const t of take) stored[t.index] = true;
    return stored;
  }

  private async placePack(name: string, tmp: string, take: ReadonlyArray<{ hash: string; data: Uint8Array; offset: number }>, offset: number): Promise<void> {
    const db = this.db!;
    const handle = await fs.open(tmp, 'wx', 0o600);
    let placed = false;
    try {
      const { bytesWritten } = await handle.writev(take.map((t) => t.data), 0);
      // Short (a disk filling up): the rest is written on until it is all there or refused.
      if (bytesWritten < offset) await writeAll(handle, Buffer.concat(take.map((t) => t.data)).subarray(bytesWritten), bytesWritten);
      await handle.sync();
      await handle.close();
      renameSync(tmp, path.join(this.packDir, name));
      placed = true;
      this.dirty.add(this.packDir);
    } finally {
      if (!placed) {
        await handle.close().catch(() => undefined);
        rmQuiet(tmp);
      }
    }
    await db.tx(async () => {
      // Rows of 500 blocks a statement (each row four parameters, well inside both engines' limits).
      for (let i = 0; i < take.length; i += 500) {
        const rows = take.slice(i, i + 500);
        await db.run(
          `INSERT INTO packed_blocks (hash, pack, "offset", size) VALUES ${rows.map(() => '(?, ?, ?, ?)').join(', ')} ON CONFLICT DO NOTHING`,
          rows.flatMap((t) => [t.hash, name, t.offset, t.data.length]),
        );
      }
    });
  }

  private async writeFiles(blocks: ReadonlyArray<{ hash: string; data: Uint8Array }>): Promise<boolean[]> {
    const stored = blocks.map(() => false);
    const pending: Array<{ index: number; hash: string; tmp: string; fd: number }> = [];
    const seen = new Set<string>();
    try {
      blocks.forEach(({ hash, data }, index) => {
        if (seen.has(hash)) return;
        seen.add(hash);
        if (looseSize(this.pathOf(hash)) !== null) return;
        // Small writes to the page cache: synchronous calls cost microseconds, a trip through
        // the libuv pool costs more. Only the fsyncs below wait on the disk, off the loop.
        const tmp = path.join(this.tmpDir, randomUUID());
        const fd = openSync(tmp, 'wx', 0o600);
        pending.push({ index, hash, tmp, fd });
        let at = 0;
        while (at < data.length) at += writeSync(fd, data, at, data.length - at);
      });
      await mapLimited(pending, 16, (p) => fsyncFd(p.fd));
      for (const p of pending) {
        closeSync(p.fd);
        p.fd = -1;
        this.place(p.tmp, p.hash);
        stored[p.index] = true;
      }
      return stored;
    } finally {
      for (const p of pending) {
        if (p.fd >= 0) closeSync(p.fd);
        if (!stored[p.index]) rmQuiet(p.tmp);
      }
    }
  }

  /** Renames a synced temp file into its shard and remembers the directory for persist(). */
  private place(tmp: string, hash: string): void {
    const target = this.pathOf(hash);
    const dir = path.dirname(target);
    if (!this.knownDirs.has(dir)) {
      const created = mkdirSync(dir, { recursive: true });
      // A new directory is durable once its parent is synced: remember each level made.
      if (created !== undefined) {
        for (let d = dir; ; d = path.dirname(d)) {
          this.dirty.add(path.dirname(d));
          if (d === created || d === this.root) break;
        }
      }
      this.knownDirs.add(dir);
    }
    renameSync(tmp, target);
    this.dirty.add(dir);
  }

  /**
   * Makes every rename done so far durable (fsync of the touched directories). Callers that
   * arrive while a flush runs wait for the next one, which covers their renames too.
   */
  persist(): Promise<void> {
    if (this.flushing) {
      this.nextFlush ??= this.flushing
        .catch(() => undefined)
        .then(() => {
          this.nextFlush = null;
          return this.flushNow();
        });
      return this.nextFlush;
    }
    if (this.dirty.size === 0) return Promise.resolve();
    return this.flushNow();
  }

  private flushNow(): Promise<void> {
    const dirs = [...this.dirty];
    this.dirty = new Set();
    const run = (async () => {
      try {
        await mapLimited(dirs, 8, fsyncDir);
      } catch (error) {
        for (const d of dirs) this.dirty.add(d);
        throw error;
      } finally {
        this.flushing = null;
      }
    })();
    this.flushing = run;
    return run;
  }

  /**
   * The file is opened before this answers, so a block whose file is gone is null here, not a
   * stream that fails after the reply's headers went out (as `readMany`, a pack compacted
   * meanwhile is read where its row now says, and one lost is logged and answered absent).
   */
  async open(hash: string): Promise<{ size: number; stream: Readable } | null> {
    for (let look = 0; look < 2; look++) {
      const row = await this.packedRow(hash);
      if (!row) break;
      if (row.size === 0) return { size: 0, stream: Readable.from([]) };
      const handle = await openIfThere(path.join(this.packDir, row.pack));
      if (handle) return { size: row.size, stream: handle.createReadStream({ start: row.offset, end: row.offset + row.size - 1 }) };
      if (look === 1) {
        await this.lostFrom(hash, row.pack);
        return null;
      }
    }
    const handle = await openIfThere(this.pathOf(hash));
    if (!handle) return null;
    try {
      return { size: (await handle.stat()).size, stream: handle.createReadStream() };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Reads blocks in order for a fetch reply: null for one not stored. Stops before the block
   * that would take the total past maxBytes (at least one block is always read).
   */
  async readMany(hashes: readonly string[], maxBytes: number): Promise<Array<Buffer | null>> {
    const packs = new Map<string, number>();
    try {
      return await this.readManyIn(hashes, maxBytes, packs);
    } finally {
      for (const fd of packs.values()) closeSync(fd);
    }
  }

  /** The pack's open descriptor (kept in `packs`), or null when the file is not there. */
  private openPack(pack: string, packs: Map<string, number>): number | null {
    let fd = packs.get(pack);
    if (fd !== undefined) return fd;
    try {
      fd = openSync(path.join(this.packDir, pack), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    packs.set(pack, fd);
    return fd;
  }

  private async readManyIn(hashes: readonly string[], maxBytes: number, packs: Map<string, number>): Promise<Array<Buffer | null>> {
    const out: Array<Buffer | null> = [];
    let total = 0;
    for (const hash of hashes) {
      let row = await this.packedRow(hash);
      if (row) {
        if (out.length > 0 && total + row.size > maxBytes) break;
        let fd = this.openPack(row.pack, packs);
        // Gone: compacted meanwhile (its row names the new pack now), collected (no row now), or
        // lost. Either of the last two is answered absent: the reply still carries the others.
        if (fd === null) {
          row = await this.packedRow(hash);
          fd = row ? this.openPack(row.pack, packs) : null;
          if (!row || fd === null) {
            if (row) await this.lostFrom(hash, row.pack);
            out.push(null);
            continue;
          }
        }
        out.push(readFully(fd, row.offset, row.size, hash));
        total += row.size;
        continue;
      }
      let fd: number;
      try {
        fd = openSync(this.pathOf(hash), 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          out.push(null);
          continue;
        }
        throw error;
      }
      try {
        const size = fstatSync(fd).size;
        if (out.length > 0 && total + size > maxBytes) break;
        out.push(readFully(fd, 0, size, hash));
        total += size;
      } finally {
        closeSync(fd);
      }
    }
    return out;
  }
}

/** The file opened for reading, or null when it is not there. */
async function openIfThere(file: string): Promise<fs.FileHandle | null> {
  try {
    return await fs.open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Writes every byte at `position`: a disk filling up takes part of a write before it refuses
 * the next with ENOSPC, and a short write counted as whole would store a truncated block.
 */
async function writeAll(handle: fs.FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let at = 0; at < data.length; ) {
    const { bytesWritten } = await handle.write(data, at, data.length - at, position + at);
    at += bytesWritten;
  }
}

function readFully(fd: number, position: number, size: number, hash: string): Buffer {
  const data = Buffer.allocUnsafe(size);
  let at = 0;
  while (at < size) {
    const n = readSync(fd, data, at, size - at, position + at);
    if (n === 0) throw new Error(`Block ${hash} is shorter than recorded`);
    at += n;
  }
  return data;
}

/** A loose block file's size, null when there is none (no exception built for a missing one). */
function looseSize(p: string): number | null {
  return statSync(p, { throwIfNoEntry: false })?.size ?? null;
}

function rmQuiet(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    /* already gone */
  }
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
