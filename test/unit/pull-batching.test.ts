import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../protocol';
import { BlockFetcher } from '../../main/engine/pull/downloader';
import { DirSyncer, TxnGroup } from '../../main/engine/pull/group-commit';
import { byFolder } from '../../main/engine/pull/puller';

const sha = (d: Buffer) => createHash('sha256').update(d).digest('hex');
const blocks = Array.from({ length: 50 }, (_, i) => Buffer.from(`block ${i}`));

/** A server that answers batch fetches from `held` and takes no single GETs; `onBatch` hears (or fails) each batch. */
function batchRemote(held: readonly Buffer[], onBatch: (hashes: readonly string[]) => void = () => undefined) {
  const byHash = new Map(held.map((b) => [sha(b), b] as const));
  return {
    getBlock: () => Promise.reject(new Error('no single GETs expected')),
    fetchBlocks: async (hashes: readonly string[]) => {
      onBatch(hashes);
      return new Map(hashes.map((h) => [h, byHash.get(h) ?? null]));
    },
  };
}

describe('BlockFetcher batches small blocks', () => {
  it('asks for what one turn of the loop wants in few requests, verified, absent ones as not_found', async () => {
    const calls: string[][] = [];
    const missing = sha(Buffer.from('nobody has me'));
    const fetcher = new BlockFetcher({ concurrency: 4, batchConcurrency: 1, remote: batchRemote(blocks, (hashes) => calls.push([...hashes])) });
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

describe('BlockFetcher fetches named blocks ahead', () => {
  const many = Array.from({ length: 1200 }, (_, i) => Buffer.from(`small file ${i}`));

  it('sends full batches for blocks named ahead, though each file asks for its own in a later turn', async () => {
    const calls: number[] = [];
    const fetcher = new BlockFetcher({ concurrency: 4, remote: batchRemote(many, (hashes) => calls.push(hashes.length)) });
    // Two files share the first block: named twice, fetched once, given to both.
    const named = [many[0]!, ...many];
    fetcher.expect(named.map((b) => ({ hash: sha(b), length: b.length })));
    const got: string[] = [];
    for (let i = 0; i < named.length; i += 16) {
      // Sixteen files at a time, each asking in its own turn (as the puller's applies do).
      await new Promise((r) => setImmediate(r));
      const part = await Promise.all(named.slice(i, i + 16).map((b) => fetcher.fetch(sha(b), b.length)));
      got.push(...part.map((d) => Buffer.from(d).toString()));
    }
    expect(got).toEqual(named.map((b) => b.toString()));
    // Without naming them ahead this was one request per turn: 76 of 16 blocks.
    expect(calls).toEqual([512, 512, 176]);
    expect(fetcher.stats.downloaded).toBe(named.length);
  });

  it('a failed batch fails the files that wait on it, retryably; the next blocks are fetched again', async () => {
    let failNext = true;
    const remote = batchRemote(many, () => {
      if (failNext) {
        failNext = false;
        throw new FerryError('network', 'connection reset', { retryable: true });
      }
    });
    const fetcher = new BlockFetcher({ concurrency: 4, batchMaxBlocks: 10, remote });
    const first = many.slice(0, 40);
    fetcher.expect(first.map((b) => ({ hash: sha(b), length: b.length })));
    const results = await Promise.allSettled(first.map((b) => fetcher.fetch(sha(b), b.length)));
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed).toHaveLength(10);
    expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'network', retryable: true });
    expect(results.slice(10).every((r) => r.status === 'fulfilled')).toBe(true);
    // The failed ones asked again (the puller's retry): fetched the usual way.
    const again = await Promise.all(first.slice(0, 10).map((b) => fetcher.fetch(sha(b), b.length)));
    expect(again.map((d) => Buffer.from(d).toString())).toEqual(first.slice(0, 10).map((b) => b.toString()));
  });

  it('leaves blocks the folder holds to the local read, and falls back to GETs without the batch endpoint', async () => {
    let gets = 0;
    let batches = 0;
    const local = many[0]!;
    const fetcher = new BlockFetcher({
      concurrency: 2,
      lookupLocal: (hash) => (hash === sha(local) ? { abs: '/nonexistent/ferry-test', offset: 0, length: local.length } : undefined),
      remote: {
        getBlock: async (hash) => {
          gets++;
          return many.find((b) => sha(b) === hash)!;
        },
        fetchBlocks: async (hashes) => {
          batches++;
          expect(hashes).not.toContain(sha(local));
          throw new FerryError('not_found', 'No such endpoint', { status: 404 });
        },
      },
    });
    const five = many.slice(0, 5);
    fetcher.expect(five.map((b) => ({ hash: sha(b), length: b.length })));
    const got = await Promise.all(five.map((b) => fetcher.fetch(sha(b), b.length)));
    expect(got.map((d) => Buffer.from(d).toString())).toEqual(five.map((b) => b.toString()));
    expect(batches).toBe(1);
    // The local copy could not be read (gone): fetched from the server like the others.
    expect(gets).toBe(5);
  });
});

describe('group commits', () => {
  it('a pull applies the files of one folder together (they share its fsync), feed order kept within each', () => {
    // Feed order spread over folders: each rename would wait for an fsync of its own folder.
    const feed = ['a/1', 'b/1', 'top', 'a/2', 'c/d/1', 'b/2', 'a/3', 'c/d/2', 'other'].map((p) => ({ entry: { path: p } }));
    expect(byFolder(feed).map((p) => p.entry.path)).toEqual(['a/1', 'a/2', 'a/3', 'b/1', 'b/2', 'top', 'other', 'c/d/1', 'c/d/2']);
  });

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
