import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBlockStore } from '../../server/storage/blocks';
import { openSqliteMetadata } from '../../server/storage/db';
import { openPostgresMetadata } from '../../server/storage/postgres';
import type { SqlDb } from '../../server/storage/sql';
import { freshRemoteStorage, TEST_BACKEND, type RemoteStorage } from '../helpers/backends';

const sha = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');

// The local block store answers which of many blocks it holds with one statement per 500 (and
// writes a pack's rows the same way), on SQLite and, in the postgres project, on PostgreSQL
// metadata beside a local disk. What it must not do: call a stored block missing (it would be
// uploaded again) or a missing one stored (a commit would then name bytes nobody has).
describe(`local block store lookups (${TEST_BACKEND} metadata)`, () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function open(): Promise<{ blocks: LocalBlockStore; db: SqlDb }> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-block-lookups-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    let db: SqlDb;
    if (TEST_BACKEND === 'postgres') {
      const remote: RemoteStorage = await freshRemoteStorage();
      cleanups.push(() => remote.drop());
      db = await openPostgresMetadata(remote.options.dbUrl);
    } else db = openSqliteMetadata(dir);
    cleanups.push(() => db.close());
    const blocks = new LocalBlockStore(dir, db);
    await blocks.init();
    return { blocks, db };
  }

  it('finds 1,200 packed blocks and a loose one, and calls only the others missing', async () => {
    const { blocks } = await open();
    const packed = Array.from({ length: 1200 }, (_, i) => randomBytes(100 + (i % 50)));
    // Three batches of 400 (each one pack), one block sent twice in a batch.
    for (let i = 0; i < packed.length; i += 400) {
      const batch = packed.slice(i, i + 400).map((data) => ({ hash: sha(data), data }));
      const stored = await blocks.writeVerified([...batch, batch[0]!]);
      expect(stored.filter(Boolean)).toHaveLength(400);
    }
    const loose = randomBytes(3000);
    await blocks.write(sha(loose), (async function* () {
      yield loose;
    })());
    const absent = Array.from({ length: 30 }, () => sha(randomBytes(16)));

    const asked = [...packed.map(sha), sha(loose), ...absent];
    expect(new Set(await blocks.missing(asked))).toEqual(new Set(absent));
    const sizes = await blocks.sizes(asked);
    expect(sizes.size).toBe(1201);
    expect(sizes.get(sha(packed[7]!))).toBe(packed[7]!.length);
    expect(sizes.get(sha(loose))).toBe(3000);

    // Sent again with new ones: only the new ones are stored.
    const fresh = randomBytes(200);
    const again = await blocks.writeVerified([{ hash: sha(packed[0]!), data: packed[0]! }, { hash: sha(loose), data: loose }, { hash: sha(fresh), data: fresh }]);
    expect(again).toEqual([false, false, true]);
    expect((await blocks.readMany([sha(fresh), sha(packed[3]!)], 1 << 20)).map((b) => b && Buffer.from(b))).toEqual([fresh, packed[3]]);
  });
});
