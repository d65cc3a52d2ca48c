// End-to-end delay: a file written on disk at agent A until the same bytes are on disk at
// agent B, through A's watcher, scanner and pusher, the server, and B's long poll and pull —
// two real agents with the default settings, the reference server in a child process.
// Standalone: `npx tsx bench/latency.bench.ts` (FERRY_BENCH_LATENCY_SAMPLES: how many files).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Settings } from '../shared/ui-contract';
import { createAgent, type Agent } from '../main/engine/agent';
import { formatResult, type BenchResult } from './types';

const SAMPLES = Number(process.env.FERRY_BENCH_LATENCY_SAMPLES ?? 30);
const bin = path.resolve(import.meta.dirname, '../bin/ferry.mjs');

/** The reference server in a child process (`ferry server`), as a user runs it; other benches use it too. */
export async function startServer(dir: string): Promise<{ url: string; token: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [bin, 'server', '--data', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => void (out += c.toString()));
  const deadline = Date.now() + 20_000;
  while (!/listening on (\S+)/.test(out) || !/token/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const url = out.match(/listening on (\S+)/)![1]!;
  return {
    url,
    token: readFileSync(path.join(dir, 'token'), 'utf8').trim(),
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

export async function run(): Promise<BenchResult[]> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-latency-'));
  const server = await startServer(path.join(tmp, 'server'));
  const agents: Agent[] = [];
  try {
    const start = async (name: string) => {
      const folder = path.join(tmp, name);
      mkdirSync(folder);
      const agent = await createAgent({
        dataDir: path.join(tmp, `${name}-data`),
        deviceName: name,
        settings: Settings.parse({ serverUrl: server.url, token: server.token, folders: [{ localPath: folder, remoteId: 'bench' }] }),
        saveSettings: () => undefined,
        tokenProtection: 'plaintext',
      });
      agents.push(agent);
      await agent.start();
      return folder;
    };
    const a = await start('a');
    const b = await start('b');
    const delays: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const name = `sample-${i}.txt`;
      const bytes = `sample ${i} ${Date.now()}\n`.repeat(10);
      const written = performance.now();
      writeFileSync(path.join(a, name), bytes);
      const target = path.join(b, name);
      for (;;) {
        if (existsSync(target) && readFileSync(target, 'utf8') === bytes) break;
        if (performance.now() - written > 30_000) throw new Error(`${name} did not reach B within 30 s`);
        await new Promise((r) => setTimeout(r, 2));
      }
      delays.push(performance.now() - written);
      // Let both sides settle so one sample does not queue behind another.
      await new Promise((r) => setTimeout(r, 100));
    }
    delays.sort((x, y) => x - y);
    const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))]!;
    const median = Math.round(at(0.5));
    const p95 = Math.round(at(0.95));
    return [
      { name: `A → B, file on disk to same bytes on disk, median (${SAMPLES} files)`, value: median, unit: 'ms', target: '< 100 ms (Syncthing 1033 ms)', met: median < 100 },
      { name: `A → B, file on disk to same bytes on disk, p95`, value: p95, unit: 'ms', target: '< 200 ms (Syncthing 1359 ms)', met: p95 < 200 },
    ];
  } finally {
    for (const agent of agents) await agent.stop();
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of await run()) console.log(formatResult(r));
}
