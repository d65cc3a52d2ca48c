import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../protocol';
import { BlockFetcher } from '../../main/engine/pull/downloader';
import { DirSyncer, TxnGroup } from '../../main/engine/pull/group-commit';

const sha = (d: Buffer) => createHash('sha256').update(d).digest('hex');
const blocks = Array.from({ length: 50 }, (_, i) => Buffer.from(`block ${i}`));

describe('BlockFetcher batches small blocks', () => {
  it('asks for what one turn of the loop wants in few requests, verified, absent ones as not_found', async () => {
    const calls: string[][] = [];
    const store = new Map(blocks.map((b) => [sha(b), b] as const));
    const missing = sha(Buffer.from('nobody has me'));
    const fetcher = new BlockFetcher({
      concurrency: 4,
      batchConcurrency: 1,
      remote: {
        getBlock: () => Promise.reject(new Error('no single GETs expected')),
        fetchBlocks: async (hashes) => {
          calls.push([...hashes]);
          return new Map(hashes.map((h) => [h, store.get(h) ?? null]));
        },
      },
    });
    const got = await Promise.all(blocks.map((b) => fetcher.fetch(sha(b), b.length)));
    expect(got.map((g) => Buffer.from(g).toString())).toEqual(blocks.map((b) => b.toString()));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(50);
    await expect(fetcher.fetch(missing, 10)).rejects.toMatchObject({ code: 'not_found' });
    expect(fetcher.stats.downloaded).toBe(50);
  });

  it('refuses bytes that do not match their hash', async () => {
    const fetcher = new BlockFetcher({
      concurrency: 1,
      remote: { getBlock: () => Promise.reject(new Error('unused')), fetchBlocks: async (hashes) => new Map(hashes.map((h) => [h, Buffer.from('wrong')])) },
    });
    await expect(fetcher.fetch(sha(blocks[0]!), 7)).rejects.toMatchObject({ code: 'hash_mismatch', retryable: true });
  });

  it('falls back to one GET per block when the server has no batch endpoint (404)', async () => {
    let gets = 0;
    let batches = 0;
    const fetcher = new BlockFetcher({
      concurrency: 2,
      remote: {
        getBlock: async (hash) => {
          gets++;
          return blocks.find((b) => sha(b) === hash)!;
        },
        fetchBlocks: async () => {
          batches++;
          throw new FerryError('not_found', 'No such endpoint', { status: 404 });
        },
      },
    });
    await Promise.all(blocks.slice(0, 5).map((b) => fetcher.fetch(sha(b), b.length)));
    await fetcher.fetch(sha(blocks[6]!), blocks[6]!.length);
    expect(batches).toBe(1);
    expect(gets).toBe(6);
  });
});

describe('group commits', () => {
  it('DirSyncer: a flush waits for an fsync that started after it was asked for; callers meanwhile share one', async () => {
    const started: Array<() => void> = [];
    const syncer = new DirSyncer(() => new Promise<void>((resolve) => started.push(resolve)));
    let firstDone = false;
    const first = syncer.flush('/d').then(() => (firstDone = true));
    expect(started).toHaveLength(1);
    // Asked while the first fsync runs: not covered by it.
    const later = [syncer.flush('/d'), syncer.flush('/d'), syncer.flush('/d')];
    let laterDone = 0;
    for (const p of later) void p.then(() => laterDone++);
    started[0]!();
    await first;
    expect(firstDone).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(laterDone).toBe(0);
    expect(started).toHaveLength(2);
    started[1]!();
    await Promise.all(later);
    expect(laterDone).toBe(3);
    expect(started).toHaveLength(2);
  });

  it('TxnGroup: one transaction for a turn of the loop; a failing writer fails alone', async () => {
    const log: string[] = [];
    let depth = 0;
    const transaction = <T>(fn: () => T): T => {
      depth++;
      log.push(depth === 1 ? 'begin' : 'savepoint');
      try {
        return fn();
      } finally {
        depth--;
      }
    };
    const group = new TxnGroup(transaction);
    const results = await Promise.allSettled([
      group.run(() => log.push('a')),
      group.run(() => {
        throw new Error('b broke');
      }),
      group.run(() => log.push('c')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(log.filter((l) => l === 'begin')).toHaveLength(1);
    expect(log).toEqual(['begin', 'savepoint', 'a', 'savepoint', 'savepoint', 'c']);
  });
});
