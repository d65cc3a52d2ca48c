// Push benchmark: 10,000 × 4 KiB files from a fresh folder to the local server, and one
// 1 GiB file against `curl -T` putting the same bytes to the same server. The server runs in
// its own process (as it would next to a real agent); everything lives in os.tmpdir().
// Standalone: `npx tsx bench/push.bench.ts` (FERRY_BENCH_FILES / FERRY_BENCH_BIG_MIB shrink it;
// FERRY_BENCH_PROFILE=DIR writes a CPU profile of the agent side of the small-file push there).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import http from 'node:http';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BLOCK_SIZE } from '../protocol';
import { createPusher, type Pusher } from '../main/engine/push';
import { hashFile } from '../main/engine/hashing';
import { LocalSide } from '../main/engine/local-side';
import { SyncApiClient } from '../main/remote';
import { openStore, type Store } from '../main/store';
import type { BenchResult } from './types';

const SELF = fileURLToPath(import.meta.url);
const FILES = Number(process.env.FERRY_BENCH_FILES ?? 10_000);
const FILE_BYTES = 4096;
const BIG_MIB = Number(process.env.FERRY_BENCH_BIG_MIB ?? 1024);
/** Where the servers keep their data (default: the same temp dir). The reference server fsyncs
 * every block, so on a slow disk this bounds small-file throughput; /dev/shm shows the software. */
const SERVER_TMP = process.env.FERRY_BENCH_SERVER_TMP;

interface ServerProc {
  url: string;
  token: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Child mode: serve until stdin closes. */
async function serve(dataDir: string): Promise<void> {
  const { startServer } = await import('../server/main');
  const server = await startServer({ dataDir, port: 0, host: '127.0.0.1' });
  process.stdout.write(JSON.stringify({ url: server.url, token: server.token }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
}

async function startServerProcess(dataDir: string): Promise<ServerProc> {
  // FERRY_BENCH_SERVER_NODE_ARGS: extra node flags for the server, e.g. --cpu-prof.
  const extra = (process.env.FERRY_BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', SELF, '--serve', dataDir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const { url, token } = JSON.parse(first) as { url: string; token: string };
  return {
    url,
    token,
    child,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

async function createFolder(server: ServerProc, id: string): Promise<void> {
  const res = await fetch(`${server.url}/v1/folders/${id}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json', 'x-ferry-device': 'bench', 'x-ferry-run': 'bench;2024-01-01T00:00:00Z' },
    body: '{}',
  });
  if (res.status >= 300) throw new Error(`folder create: ${res.status}`);
}

export interface Agent {
  store: Store;
  pusher: Pusher;
  client: SyncApiClient;
  close(): Promise<void>;
}

/** A pusher with its own state database for one folder (the cluster bench runs eight). */
export function agent(tmp: string, root: string, server: Pick<ServerProc, 'url' | 'token'>, folderId = 'bench'): Agent {
  const store = openStore(path.join(tmp, `state-${Date.now()}.db`));
  store.folders.add({ id: folderId, localRoot: root, remoteId: folderId });
  const client = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'bench-agent' });
  const pusher = createPusher({
    store,
    remote: client,
    options: { idlePollMs: 1000 },
  });
  return {
    store,
    pusher,
    client,
    async close() {
      await pusher.stop();
      client.close();
      store.close();
    },
  };
}

/**
 * The start-up reconcile of a fresh folder, as the agent runs it (LocalSide, not watching):
 * every file hashed, indexed and queued, the pusher told at each commit that queued uploads.
 */
export async function scanInto(store: Store, root: string, onQueued: () => void, folderId = 'bench'): Promise<number> {
  const side = new LocalSide({ store, folderId, watch: false, push: { queued: onQueued, kick: onQueued } });
  try {
    const result = await side.start();
    if (!result.ok) throw new Error(`the reconcile failed: ${result.error?.message ?? 'unknown'}`);
    onQueued();
    return result.queued;
  } finally {
    await side.stop();
  }
}

/** Resolves when n items are done; event-driven, so the wait costs the agent nothing. */
export function untilDone(a: Agent, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = a.store.queue.countsByState().done;
    if (done >= n) return resolve();
    const off = a.pusher.on('item', (e) => {
      if (e.state === 'done') done++;
      if (e.state === 'failed') reject(new Error(`${e.path} failed: ${e.code} ${e.message}`));
      if (done >= n) {
        off();
        resolve();
      }
    });
  });
}

async function smallFiles(tmp: string): Promise<BenchResult[]> {
  const root = path.join(tmp, 'small');
  mkdirSync(root);
  const data = randomBytes(FILES * FILE_BYTES);
  for (let i = 0; i < FILES; i++) writeFileSync(path.join(root, `f${String(i).padStart(5, '0')}.bin`), data.subarray(i * FILE_BYTES, (i + 1) * FILE_BYTES));
  const server = await startServerProcess(path.join(serverRoot, 'server-small'));
  const a = agent(tmp, root, server);
  try {
    await createFolder(server, 'bench');
    await a.pusher.start();
    const profile = await profileIf(process.env.FERRY_BENCH_PROFILE);
    const cpu0 = process.cpuUsage();
    const serverCpu0 = processCpuMs(server.child.pid);
    const t0 = performance.now();
    const queued = await scanInto(a.store, root, () => a.pusher.queued());
    const tQueued = performance.now();
    const doneAtQueued = a.store.queue.countsByState().done;
    await untilDone(a, queued);
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const serverCpu = processCpuMs(server.child.pid) - serverCpu0;
    await profile?.();
    const rate = queued / ((t1 - t0) / 1000);
    return [
      { name: `${FILES} × 4 KiB files, fresh folder → committed`, value: Math.round(rate), unit: 'files/s', target: '≥ 8000 files/s (Syncthing 775 files/s)', met: rate >= 8000 },
      { name: `  scan (hash + queue, overlapping the push)`, value: Math.round(tQueued - t0), unit: 'ms' },
      { name: `  files committed by the end of the scan`, value: doneAtQueued, unit: 'files' },
      // CPU, not wall time: what each side costs, whatever else the machine runs meanwhile.
      { name: `  agent CPU per 1,000 files (scan and push)`, value: Math.round(((cpu.user + cpu.system) / 1000 / queued) * 1000), unit: 'ms' },
      { name: `  server CPU per 1,000 files`, value: Math.round((serverCpu / queued) * 1000), unit: 'ms' },
    ];
  } finally {
    await a.close();
    await server.stop();
  }
}

/** A process's CPU time so far (user + system, ms), from /proc (Linux). */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // Fields 14 and 15 of /proc/PID/stat (after the command name in parentheses), in clock
    // ticks of 1/100 s (USER_HZ on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** FERRY_BENCH_PROFILE=DIR: a CPU profile of this process over the measured push, written to DIR. */
async function profileIf(dir: string | undefined): Promise<(() => Promise<void>) | undefined> {
  if (!dir) return undefined;
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `push-${Date.now()}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}

/**
 * For scale: the server's own ceiling for distinct 4 KiB block PUTs, from a bare keep-alive
 * client (32 in flight, no hashing, no reading files, no commits).
 */
async function serverCeiling(): Promise<BenchResult> {
  const server = await startServerProcess(path.join(serverRoot, 'server-ceiling'));
  const agentPool = new http.Agent({ keepAlive: true, maxSockets: 32 });
  try {
    const data = randomBytes(FILES * FILE_BYTES);
    const blocks = Array.from({ length: FILES }, (_, i) => {
      const b = data.subarray(i * FILE_BYTES, (i + 1) * FILE_BYTES);
      return { b, h: createHash('sha256').update(b).digest('hex') };
    });
    let next = 0;
    const t0 = performance.now();
    const put = (b: Buffer, h: string) =>
      new Promise<void>((resolve, reject) => {
        const req = http.request(`${server.url}/v1/blocks/${h}`, { method: 'PUT', agent: agentPool, headers: { authorization: `Bearer ${server.token}`, 'content-length': b.length } }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode && res.statusCode < 300 ? resolve() : reject(new Error(`PUT ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(b);
      });
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < FILES) {
          const { b, h } = blocks[next++]!;
          await put(b, h);
        }
      }),
    );
    const rate = FILES / ((performance.now() - t0) / 1000);
    return { name: `  reference: server ceiling, bare PUTs of 4 KiB blocks`, value: Math.round(rate), unit: 'blocks/s' };
  } finally {
    agentPool.destroy();
    await server.stop();
  }
}

async function bigFile(tmp: string): Promise<BenchResult[]> {
  const root = path.join(tmp, 'big');
  mkdirSync(root);
  const file = path.join(root, 'big.bin');
  const bytes = BIG_MIB * 1024 * 1024;
  // Random content in 4 MiB pieces (incompressible, no repeated blocks).
  const handle = await open(file, 'w');
  const chunk = Buffer.allocUnsafe(BLOCK_SIZE);
  for (let off = 0; off < bytes; off += BLOCK_SIZE) {
    randomFillSync(chunk);
    await handle.write(chunk, 0, Math.min(BLOCK_SIZE, bytes - off), off);
  }
  await handle.close();

  // Ferry: queue → committed, on a fresh server.
  const server = await startServerProcess(path.join(serverRoot, 'server-big'));
  const a = agent(tmp, root, server);
  let ferryMs: number;
  try {
    await createFolder(server, 'bench');
    const h = await hashFile(file);
    const st = await stat(file);
    a.store.paths.enqueue({ folderId: 'bench', path: 'big.bin', kind: 'file', op: 'upsert', size: h.size, mtimeMs: st.mtimeMs, contentHash: h.contentHash, blocks: h.blocks, baseRevision: null });
    await a.pusher.start();
    const t0 = performance.now();
    a.pusher.kick();
    await untilDone(a, 1);
    ferryMs = performance.now() - t0;
  } finally {
    await a.close();
    await server.stop();
  }

  // curl -T: the same bytes (as the same 4 MiB blocks) to a fresh server, one keep-alive connection.
  const h = await hashFile(file);
  const blockDir = path.join(tmp, 'blocks');
  mkdirSync(blockDir);
  const config: string[] = [];
  for (let i = 0; i < h.blocks.length; i++) {
    const part = path.join(blockDir, `b${i}`);
    await copyRange(file, part, i * BLOCK_SIZE, Math.min(BLOCK_SIZE, bytes - i * BLOCK_SIZE));
    config.push(`upload-file = "${part}"`, `url = "URL/v1/blocks/${h.blocks[i]}"`, 'output = /dev/null');
  }
  const curlServer = await startServerProcess(path.join(serverRoot, 'server-curl'));
  let curlMs: number;
  try {
    const cfg = path.join(tmp, 'curl.cfg');
    writeFileSync(cfg, config.join('\n').replaceAll('URL', curlServer.url) + '\n');
    const t0 = performance.now();
    const r = spawnSync('curl', ['-sS', '--fail', '-K', cfg, '-H', `Authorization: Bearer ${curlServer.token}`, '-H', 'Content-Type: application/octet-stream'], { stdio: ['ignore', 'ignore', 'inherit'] });
    curlMs = performance.now() - t0;
    if (r.status !== 0) throw new Error(`curl failed with ${r.status}`);
  } finally {
    await curlServer.stop();
  }
  const ratio = ferryMs / curlMs;
  return [
    { name: `${BIG_MIB} MiB file: Ferry push`, value: Math.round(ferryMs), unit: 'ms' },
    { name: `${BIG_MIB} MiB file: curl -T, same bytes, same server`, value: Math.round(curlMs), unit: 'ms' },
    { name: `${BIG_MIB} MiB file: Ferry / curl`, value: Number(ratio.toFixed(2)), unit: '×', target: '≤ 1.25×', met: ratio <= 1.25 },
  ];
}

function copyRange(from: string, to: string, start: number, length: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = createReadStream(from, { start, end: start + length - 1 });
    void open(to, 'w').then(async (h) => {
      try {
        for await (const c of out) await h.write(c as Buffer);
        await h.close();
        resolve();
      } catch (error) {
        await h.close();
        reject(error);
      }
    }, reject);
  });
}

export async function run(): Promise<BenchResult[]> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-push-'));
  serverRoot = SERVER_TMP ? mkdtempSync(path.join(SERVER_TMP, 'ferry-bench-server-')) : tmp;
  try {
    const out = await smallFiles(tmp);
    out.push(await serverCeiling());
    out.push(...(await bigFile(tmp)));
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(serverRoot, { recursive: true, force: true });
  }
}

let serverRoot = '';

if (process.argv[2] === '--serve' && process.argv[3]) {
  await serve(process.argv[3]);
} else if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  const { formatResult } = await import('./types');
  for (const r of await run()) console.log(formatResult(r));
}
