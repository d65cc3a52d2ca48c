// Reference server throughput through the real client over loopback:
// one sync batch of 1,000 upserts whose blocks are already stored, batch uploads of 4 KiB blocks,
// and block uploads of 4 KiB and 4 MiB.
// `npx tsx bench/server.bench.ts` runs it alone.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SyncApiClient } from '../main/remote';
import { startServer } from '../server/main';
import { formatResult, type BenchResult } from './types';

const MB = 1024 * 1024;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Uploads `count` distinct random blocks of `size` bytes with `concurrency` requests in flight. */
async function uploadBlocks(client: SyncApiClient, size: number, count: number, concurrency: number): Promise<number> {
  const blocks = Array.from({ length: count }, () => randomBytes(size));
  const hashes = blocks.map(sha256);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        await client.putBlock(hashes[i]!, blocks[i]!);
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

export async function run(): Promise<BenchResult[]> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-bench-server-'));
  const server = await startServer({ dataDir, port: 0, syncBudgetMs: 60_000 });
  const client = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'bench', runName: 'bench' });
  try {
    await client.createFolder('bench');
    const block = randomBytes(4096);
    const hash = sha256(block);
    await client.putBlock(hash, block);

    // Best of three batches: each writes 1,000 new paths whose single block is already stored.
    let bestBatch = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 3; round++) {
      const operations = Array.from({ length: 1000 }, (_, i) => ({
        key: `k${i}`,
        action: 'upsert' as const,
        path: `round-${round}/dir-${i % 10}/file-${i}.bin`,
        size: block.length,
        mtime: Date.now(),
        blocks: [hash],
        baseRevision: null,
      }));
      const started = performance.now();
      const reply = await client.submitBatch('bench', operations, { mode: 'sync' });
      const seconds = (performance.now() - started) / 1000;
      if (!('results' in reply) || Object.values(reply.results).some((r) => !r.ok)) throw new Error('bench batch did not complete');
      bestBatch = Math.min(bestBatch, seconds);
    }

    // Batch uploads of 4 KiB blocks, 512 per request, 2 requests in flight (what the pusher sends).
    const batchBlocks = Array.from({ length: 10_240 }, () => randomBytes(4096)).map((data) => ({ hash: sha256(data), data }));
    let nextBatch = 0;
    const batchStarted = performance.now();
    await Promise.all(
      Array.from({ length: 2 }, async () => {
        while (nextBatch < batchBlocks.length) {
          const part = batchBlocks.slice(nextBatch, nextBatch + 512);
          nextBatch += 512;
          await client.putBlocks(part);
        }
      }),
    );
    const batchBlocksPerSecond = batchBlocks.length / ((performance.now() - batchStarted) / 1000);

    const smallCount = 500;
    const smallSeconds = await uploadBlocks(client, 4096, smallCount, 4);
    const largeCount = 16;
    const largeSeconds = await uploadBlocks(client, 4 * MB, largeCount, 4);

    const batchOps = 1000 / bestBatch;
    const smallOps = smallCount / smallSeconds;
    const largeMBps = (largeCount * 4) / largeSeconds;
    return [
      { name: 'sync batch, 1,000 upserts of stored blocks', value: Math.round(batchOps), unit: 'ops/s', target: '≥ 2,000 ops/s', met: batchOps >= 2000 },
      { name: 'block upload 4 KiB (4 in flight)', value: Math.round(smallOps), unit: 'ops/s', target: '≥ 300 ops/s', met: smallOps >= 300 },
      { name: 'block upload 4 KiB (4 in flight)', value: (smallCount * 4096) / MB / smallSeconds, unit: 'MB/s', target: '—' },
      { name: 'batch upload 4 KiB blocks (512 per request)', value: Math.round(batchBlocksPerSecond), unit: 'blocks/s', target: '≥ 2,000 blocks/s', met: batchBlocksPerSecond >= 2000 },
      { name: 'block upload 4 MiB (4 in flight)', value: largeMBps, unit: 'MB/s', target: '≥ 50 MB/s', met: largeMBps >= 50 },
      { name: 'block upload 4 MiB (4 in flight)', value: largeCount / largeSeconds, unit: 'ops/s', target: '—' },
    ];
  } finally {
    client.close();
    await server.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  for (const result of await run()) console.log(formatResult(result));
}
