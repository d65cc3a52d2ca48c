// History and restore through the real client over loopback (docs/sync-api.md, "History and
// restore", "Retention and garbage collection"):
// - restoring 10,000 deleted files with one `ferry restore --deleted` (the engine's restore),
// - garbage collection after 1 GiB of versions written and overwritten with a short retention.
// `npx tsx bench/history.bench.ts` runs it alone.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { restore } from '../main/engine/history/restore-batch';
import { SyncApiClient } from '../main/remote';
import { startServer } from '../server/main';
import { formatResult, type BenchResult } from './types';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? await dirBytes(p) : (await fs.stat(p)).size;
  }
  return total;
}

async function restoreDeleted(): Promise<number> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-bench-history-'));
  const server = await startServer({ dataDir, port: 0, syncBudgetMs: 60_000, gcIntervalMs: 0 });
  const client = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'bench', runName: 'bench' });
  try {
    await client.createFolder('bench');
    const count = 10_000;
    const blocks = Array.from({ length: count }, (_, i) => Buffer.from(`file ${i} ${randomBytes(24).toString('hex')}`));
    for (let i = 0; i < count; i += 512) await client.putBlocks(blocks.slice(i, i + 512).map((data) => ({ hash: sha256(data), data })));
    const upserts = blocks.map((data, i) => ({ key: `u${i}`, action: 'upsert' as const, path: `dir-${i % 100}/file-${i}.txt`, size: data.length, mtime: Date.now(), blocks: [sha256(data)], baseRevision: null }));
    const created = await client.submitBatch('bench', upserts, { mode: 'sync' });
    if (!('results' in created)) throw new Error('bench upserts did not complete');
    const deletes = upserts.map((op) => ({ key: op.key, action: 'delete' as const, path: op.path, baseRevision: (created.results[op.key] as { revision: string }).revision }));
    const deleted = await client.submitBatch('bench', deletes, { mode: 'sync' });
    if (!('results' in deleted)) throw new Error('bench deletes did not complete');

    const started = performance.now();
    const outcome = await restore(client, 'bench', { kind: 'deleted' }, { pollMs: 50 });
    const seconds = (performance.now() - started) / 1000;
    if (outcome.restored.length !== count) throw new Error(`restored ${outcome.restored.length} of ${count}`);
    return seconds;
  } finally {
    client.close();
    await server.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

/** 32 files of 4 MiB, each written 8 times (1 GiB), then GC with a retention of one second. */
async function gcAfterOverwrites(): Promise<{ ratio: number; seconds: number }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-bench-gc-'));
  let now = Date.now();
  const server = await startServer({ dataDir, port: 0, syncBudgetMs: 60_000, gcIntervalMs: 0, gcGraceMs: 0, keepVersionsMs: 1000, clock: () => now });
  const client = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'bench', runName: 'bench' });
  try {
    await client.createFolder('bench');
    const revisions = new Map<string, string | null>(Array.from({ length: 32 }, (_, i) => [`big-${i}.bin`, null]));
    for (let round = 0; round < 8; round++) {
      const ops = [];
      for (const [p, base] of revisions) {
        const data = randomBytes(4 * MiB);
        const hash = sha256(data);
        await client.putBlock(hash, data);
        ops.push({ key: p, action: 'upsert' as const, path: p, size: data.length, mtime: now, blocks: [hash], baseRevision: base });
      }
      const reply = await client.submitBatch('bench', ops, { mode: 'sync' });
      if (!('results' in reply)) throw new Error('bench overwrite did not complete');
      for (const [key, r] of Object.entries(reply.results)) revisions.set(key, r.ok ? r.revision : null);
      now += 10;
    }
    now += 10_000;
    const started = performance.now();
    await server.collectGarbage();
    const seconds = (performance.now() - started) / 1000;
    const live = 32 * 4 * MiB;
    return { ratio: (await dirBytes(path.join(dataDir, 'blocks'))) / live, seconds };
  } finally {
    client.close();
    await server.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const restoreSeconds = await restoreDeleted();
  const gc = await gcAfterOverwrites();
  return [
    { name: 'restore 10,000 deleted files (one command)', value: restoreSeconds, unit: 's', target: '< 10 s', met: restoreSeconds < 10 },
    { name: 'block store after GC / live data (1 GiB written)', value: gc.ratio, unit: '×', target: '≤ 1.10', met: gc.ratio <= 1.1 },
    { name: 'GC run after 1 GiB of overwrites', value: gc.seconds, unit: 's', target: '—' },
  ];
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  for (const result of await run()) console.log(formatResult(result));
}
