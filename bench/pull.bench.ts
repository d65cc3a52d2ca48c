// Pull benchmarks: `npx tsx bench/pull.bench.ts` (or `npm run bench -- pull`).
// 1. 10,000 small remote files pulled into an empty folder (files/s).
// 2. The delay from a commit on device A to the same bytes on disk at B through the long poll
//    (bench/latency.bench.ts measures the whole path with two agents); here A commits with the
//    Sync API client the moment it "writes", so the figure covers server + feed + long poll +
//    pull + atomic write on B, not A's watcher debounce and upload.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createPuller } from '../main/engine/pull';
import { openStore } from '../main/store';
import { SyncApiClient } from '../main/remote';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { OperationInput } from '../protocol';
import { formatResult, type BenchResult } from './types';

const sha = (d: Buffer) => createHash('sha256').update(d).digest('hex');

async function commitFiles(client: SyncApiClient, folder: string, files: Array<[string, Buffer]>, revisions: Map<string, string>): Promise<void> {
  const missing = new Set(await client.missingBlocks(files.filter(([, d]) => d.length).map(([, d]) => sha(d))));
  const pending = files.filter(([, d]) => missing.has(sha(d)));
  // Upload blocks 32 at a time.
  for (let i = 0; i < pending.length; i += 32) await Promise.all(pending.slice(i, i + 32).map(([, d]) => client.putBlock(sha(d), d)));
  for (let i = 0; i < files.length; i += 5000) {
    const ops: OperationInput[] = files.slice(i, i + 5000).map(([p, d], n) => ({
      key: `k${i + n}`,
      action: 'upsert',
      path: p,
      size: d.length,
      mtime: Date.now(),
      blocks: d.length ? [sha(d)] : [],
      baseRevision: revisions.get(p) ?? null,
    }));
    const reply = await client.submitBatch(folder, ops);
    if (!('results' in reply)) throw new Error('expected sync results');
    for (const op of ops) {
      const r = reply.results[op.key];
      if (!r?.ok) throw new Error(`commit failed for ${op.path}`);
      revisions.set(op.path, r.revision);
    }
  }
}

/** The reference server in its own process, as in real use (it must not share the puller's event loop). */
async function startServerProcess(dataDir: string): Promise<{ url: string; token: string; close: () => Promise<void> }> {
  const token = `bench-${process.pid}-token`;
  const entry = path.join(import.meta.dirname, '..', 'test', 'helpers', 'server-cli-entry.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', entry, '--data', dataDir, '--port', '0', '--token', token], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${out}`)));
  });
  return {
    url,
    token,
    close: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * For scale: what the disk allows for the same files with the pull's durability and none of
 * its work — each written to a temp file, fsynced and renamed into place, 128 at a time (the
 * pull's small-file concurrency), each directory fsynced once at the end. On a disk whose
 * fsyncs are slow this bounds the pull; on tmpfs the pull's own CPU does.
 */
async function diskCeiling(root: string, files: ReadonlyArray<[string, Buffer]>): Promise<number> {
  const dirs = new Set(files.map(([p]) => path.dirname(p)));
  for (const d of dirs) mkdirSync(path.join(root, d), { recursive: true });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 128 }, async () => {
      while (next < files.length) {
        const [rel, data] = files[next++]!;
        const tmp = path.join(root, `${rel}.tmp`);
        const handle = await open(tmp, 'wx');
        await handle.write(data);
        await handle.sync();
        await handle.close();
        await rename(tmp, path.join(root, rel));
      }
    }),
  );
  for (const d of dirs) {
    const handle = await open(path.join(root, d), 'r');
    await handle.sync();
    await handle.close();
  }
  return files.length / ((performance.now() - t0) / 1000);
}

export async function run(): Promise<BenchResult[]> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-pull-'));
  const server = await startServerProcess(path.join(base, 'server'));
  const writer = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'device-a' });
  const reader = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'device-b' });
  const results: BenchResult[] = [];
  try {
    // 1. Throughput.
    const N = 10_000;
    await writer.createFolder('bulk');
    const files: Array<[string, Buffer]> = [];
    for (let i = 0; i < N; i++) files.push([`d${i % 100}/file-${i}.txt`, Buffer.from(`small file number ${i}\n`)]);
    await commitFiles(writer, 'bulk', files, new Map());
    const rootB = path.join(base, 'b-bulk');
    mkdirSync(rootB);
    const storeB = openStore(path.join(base, 'b.db'));
    storeB.folders.add({ id: 'bulk', localRoot: rootB, remoteId: 'bulk' });
    const puller = createPuller({ store: storeB, remote: reader, device: { id: 'device-b', name: 'b' } });
    // Right before the pull, on the same disk in the same state (the server just wrote the blocks).
    const ceiling = await diskCeiling(path.join(base, 'ceiling'), files);
    const t0 = performance.now();
    const summary = await puller.pullNow('bulk');
    const seconds = (performance.now() - t0) / 1000;
    if (summary.downloaded !== N) throw new Error(`expected ${N} downloads, got ${summary.downloaded}`);
    const rate = N / seconds;
    results.push({ name: `pull ${N} small files into an empty folder`, value: Math.round(rate), unit: 'files/s', target: '≥ 5000 files/s', met: rate >= 5000 });
    results.push({ name: `  reference: this disk's ceiling, bare write + fsync + rename of the same files`, value: Math.round(ceiling), unit: 'files/s' });
    results.push({ name: `  Ferry / disk ceiling`, value: Number((rate / ceiling).toFixed(2)), unit: '×' });

    // 2. Latency A → B through the long poll, default settings (pollTimeoutSec 30, fallback 5 min).
    await writer.createFolder('live');
    const rootL = path.join(base, 'b-live');
    mkdirSync(rootL);
    storeB.folders.add({ id: 'live', localRoot: rootL, remoteId: 'live' });
    const live = createPuller({ store: storeB, remote: reader, device: { id: 'device-b', name: 'b' } });
    const revisions = new Map<string, string>();
    await commitFiles(writer, 'live', [['warmup.txt', Buffer.from('warm')]], revisions);
    live.start(['live']);
    const landed = async (file: string, bytes: Buffer, deadline: number) => {
      for (;;) {
        try {
          if (readFileSync(path.join(rootL, file)).equals(bytes)) return;
        } catch {
          /* not there yet */
        }
        if (performance.now() > deadline) throw new Error(`${file} did not arrive`);
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    await landed('warmup.txt', Buffer.from('warm'), performance.now() + 10_000);
    // Let the loop get back into its long poll after the warm-up pull.
    await new Promise((r) => setTimeout(r, 100));
    const delays: number[] = [];
    for (let i = 0; i < 30; i++) {
      const bytes = Buffer.from(`edit ${i} at ${Date.now()}`);
      const start = performance.now();
      await commitFiles(writer, 'live', [['note.txt', bytes]], revisions);
      await landed('note.txt', bytes, start + 10_000);
      delays.push(performance.now() - start);
      // A new edit every so often, like a person saving; also lets the long poll re-arm.
      await new Promise((r) => setTimeout(r, 50));
    }
    await live.stop();
    await puller.stop();
    storeB.close();
    delays.sort((a, b) => a - b);
    const median = percentile(delays, 50);
    const p95 = percentile(delays, 95);
    const note = ' (A commits via the client: server, feed, long poll and pull only; end to end: bench/latency)';
    results.push({ name: `A→B delay via long poll, median${note}`, value: median, unit: 'ms', target: '< 500 ms (Syncthing 1090 ms)', met: median < 500 });
    results.push({ name: `A→B delay via long poll, p95${note}`, value: p95, unit: 'ms', target: '< 1000 ms (Syncthing 1310 ms)', met: p95 < 1000 });
  } finally {
    writer.close();
    reader.close();
    await server.close();
    rmSync(base, { recursive: true, force: true });
  }
  return results;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  for (const r of await run()) console.log(formatResult(r));
}
