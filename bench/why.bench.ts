// `ferry why` with 100,000 indexed files (issue 17: answered in under 100 ms): the engine's own
// answer (main/engine/agent/why.ts: the index, the queue, the conflicts, one lstat) plus the
// server's side (why-server.ts: the path's newest revision through the real client over
// loopback), on a real SQLite state database and a real server holding the same 100,000 files.
// `npx tsx bench/why.bench.ts` runs it alone.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { explainPath } from '../main/engine/agent/why';
import { withServerState } from '../main/engine/agent/why-server';
import { PullHealth } from '../main/engine/pull/health';
import { SyncApiClient } from '../main/remote';
import { openStore } from '../main/store';
import { startServer } from '../server/main';
import { formatResult, type BenchResult } from './types';

const FILES = 100_000;
const ASKED = 300;
const BATCH = 10_000;

export async function run(): Promise<BenchResult[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-bench-why-'));
  const root = path.join(dir, 'Docs');
  await fs.mkdir(root);
  const server = await startServer({ dataDir: path.join(dir, 'server'), port: 0, syncBudgetMs: 120_000, gcIntervalMs: 0 });
  const client = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'bench', runName: 'bench' });
  const store = openStore(path.join(dir, 'state.db'));
  try {
    await client.createFolder('docs');
    await client.reportDevice('docs', { name: 'bench-desktop', version: 'ferry/bench', pending: 0, failedCount: 0, failures: [] });
    const data = Buffer.from('the same few bytes in every file\n');
    const hash = createHash('sha256').update(data).digest('hex');
    await client.putBlocks([{ hash, data }]);
    const pathOf = (i: number) => `dir-${i % 1000}/file-${i}.txt`;
    const revisions: string[] = new Array<string>(FILES);
    for (let start = 0; start < FILES; start += BATCH) {
      const ops = Array.from({ length: BATCH }, (_, n) => ({ key: `u${start + n}`, action: 'upsert' as const, path: pathOf(start + n), size: data.length, mtime: 0, blocks: [hash], baseRevision: null }));
      const reply = await client.submitBatch('docs', ops, { mode: 'sync' });
      if (!('results' in reply)) throw new Error('bench upserts did not complete in sync mode');
      ops.forEach((op, n) => {
        const result = reply.results[op.key];
        if (!result?.ok) throw new Error(`bench upsert ${op.path} failed`);
        revisions[start + n] = result.revision;
      });
    }

    store.folders.add({ id: 'docs', localRoot: root, remoteId: 'docs' });
    store.transaction(() => {
      for (let i = 0; i < FILES; i++) {
        store.index.put({ folderId: 'docs', path: pathOf(i), kind: 'file', size: data.length, mtimeMs: 0, inode: null, contentHash: hash, blocks: [hash], syncedRevision: revisions[i]! });
      }
    });
    // The asked files are on disk; the rest exist only in the index (why lstats only the one asked).
    const asked = Array.from({ length: ASKED }, (_, n) => Math.floor((n * FILES) / ASKED) + 7);
    for (const i of asked) {
      await fs.mkdir(path.join(root, path.dirname(pathOf(i))), { recursive: true });
      await fs.writeFile(path.join(root, pathOf(i)), data);
      await fs.utimes(path.join(root, pathOf(i)), 0, 0);
    }
    // The puller's record of failed and refused pulls, as the agent reads it.
    const ctx = { store, ignoreRules: [], paused: false, linkProblem: null, pull: new PullHealth(), now: Date.now() };
    const times: number[] = [];
    let inSync = 0;
    for (const i of asked) {
      const started = performance.now();
      const answer = await withServerState(explainPath(ctx, 'docs', pathOf(i)), client, 'docs', () => 'bench-desktop');
      times.push(performance.now() - started);
      if (answer.inSync && answer.reasons[0]!.message.includes(`revision ${revisions[i]}, written by`)) inSync++;
    }
    if (inSync !== asked.length) throw new Error(`why said "in sync" for ${inSync} of ${asked.length} files that are`);
    times.sort((a, b) => a - b);
    const p50 = times[Math.floor(times.length / 2)]!;
    const p99 = times[Math.floor(times.length * 0.99)]!;
    return [
      { name: `why, ${FILES.toLocaleString('en')} indexed files: median`, value: p50, unit: 'ms', target: '< 100 ms', met: p50 < 100 },
      { name: `why, ${FILES.toLocaleString('en')} indexed files: 99th percentile`, value: p99, unit: 'ms', target: '< 100 ms', met: p99 < 100 },
    ];
  } finally {
    store.close();
    client.close();
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  for (const result of await run()) console.log(formatResult(result));
}
