// Renames between two real agents (issue 16; docs/conflict-rules.md, "Moves and renames"):
// the reference server in a child process, B talking to it through a counting proxy, default
// settings. `npm run bench -- moves` or `npx tsx bench/moves.bench.ts`.
// 1. A folder of 10 × 4 MiB + 200 small files renamed on A, under half of the synced folder.
// 2. The same folder holding every file of the synced folder (a move, never a mass delete).
// 3. A folder of 10,000 small files renamed.
// Each: the time from the rename on A to B having every file under the new name, and the
// block requests B made meanwhile (single GETs and batch fetches).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Settings } from '../shared/ui-contract';
import { createAgent, type Agent } from '../main/engine/agent';
import { FaultProxy } from '../test/fakes/fault-proxy';
import { startServer } from './latency.bench';
import { formatResult, type BenchResult } from './types';

const MiB = 1024 * 1024;

/** Files under root (relative, '/'-separated), .ferry left out. */
function listFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (r === '.ferry') continue;
    if (e.isDirectory()) out.push(...listFiles(root, r));
    else out.push(r);
  }
  return out;
}

async function until(what: string, timeoutMs: number, probe: () => boolean): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Scenario {
  label: string;
  /** Files of the folder that is renamed, and the ones beside it (relative to the root). */
  inside: Array<[string, Buffer]>;
  beside: Array<[string, Buffer]>;
}

async function measure(s: Scenario): Promise<{ ms: number; blockRequests: number; paused: boolean }> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-moves-'));
  const server = await startServer(path.join(tmp, 'server'));
  const proxy = await FaultProxy.start({ target: server.url });
  const agents: Agent[] = [];
  try {
    const rootA = path.join(tmp, 'a');
    const rootB = path.join(tmp, 'b');
    for (const [rel, data] of [...s.inside.map(([r, d]): [string, Buffer] => [`folder/${r}`, d]), ...s.beside]) {
      mkdirSync(path.dirname(path.join(rootA, rel)), { recursive: true });
      writeFileSync(path.join(rootA, rel), data);
    }
    mkdirSync(rootB);
    const start = async (name: string, root: string, url: string) => {
      const agent = await createAgent({
        dataDir: path.join(tmp, `${name}-data`),
        deviceName: name,
        settings: Settings.parse({ serverUrl: url, token: server.token, folders: [{ localPath: root, remoteId: 'bench' }] }),
        saveSettings: () => undefined,
        tokenProtection: 'plaintext',
      });
      agents.push(agent);
      await agent.start();
      return agent;
    };
    const total = s.inside.length + s.beside.length;
    const a = await start('a', rootA, server.url);
    const b = await start('b', rootB, proxy.url);
    await until('B has the folder', 900_000, () => listFiles(rootB).length === total);
    await until('both idle', 60_000, () => a.status().state === 'idle' && b.status().state === 'idle');
    const before = proxy.requests({ path: /^\/v1\/blocks/ }).length;
    const expected = new Set(s.inside.map(([r]) => `renamed/${r}`));
    let paused = false;
    const renamed = performance.now();
    renameSync(path.join(rootA, 'folder'), path.join(rootA, 'renamed'));
    await until('B shows the new name', 300_000, () => {
      paused ||= a.status().folders[0]?.state === 'paused_mass_delete';
      const files = listFiles(rootB);
      return files.filter((f) => expected.has(f)).length === expected.size && !files.some((f) => f.startsWith('folder/'));
    });
    const ms = performance.now() - renamed;
    return { ms, blockRequests: proxy.requests({ path: /^\/v1\/blocks/ }).length - before, paused };
  } finally {
    for (const agent of agents) await agent.stop();
    await proxy.close();
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

const small = (n: number, prefix: string): Array<[string, Buffer]> => Array.from({ length: n }, (_, i) => [`${prefix}${i}.txt`, Buffer.from(`small file ${prefix}${i} ${randomBytes(8).toString('hex')}\n`)]);
const bigAndSmall = (): Array<[string, Buffer]> => [...Array.from({ length: 10 }, (_, i): [string, Buffer] => [`big-${i}.bin`, randomBytes(4 * MiB)]), ...small(200, 'small/s-')];

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const report = (label: string, r: { ms: number; blockRequests: number; paused: boolean }, targetMs: number) => {
    results.push({ name: `${label}: B shows the new name`, value: Math.round(r.ms), unit: 'ms', target: `< ${targetMs} ms`, met: r.ms < targetMs });
    results.push({ name: `${label}: block requests by B`, value: r.blockRequests, unit: 'requests', target: '0', met: r.blockRequests === 0 });
    results.push({ name: `${label}: A paused as a mass delete`, value: r.paused ? 1 : 0, unit: 'times', target: '0', met: !r.paused });
  };
  // Targets: within 1 s of A's scan (the scan waits for the watcher's settle and the 1 s hold of
  // deletes), so 2.5 s from the rename; 10,000 files converged in 2 s after A's scan.
  report('10 × 4 MiB + 200 small, half the folder', await measure({ label: 'half', inside: bigAndSmall(), beside: small(250, 'other/o-') }), 2500);
  report('10 × 4 MiB + 200 small, every file', await measure({ label: 'all', inside: bigAndSmall(), beside: [] }), 2500);
  report('10,000 small files', await measure({ label: '10k', inside: small(10_000, 'many/m-'), beside: [] }), 3500);
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of await run()) console.log(formatResult(r));
}
