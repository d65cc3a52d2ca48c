// The headless agent's memory while it pushes a fresh folder of 10,000 small files: a real
// `ferry agent` process (the built CLI, as a user runs it) against the reference server in
// another process. Peak RSS is the kernel's high-water mark (VmHWM) of the agent's process.
// Standalone: `npx tsx bench/memory.bench.ts` (FERRY_BENCH_MEMORY_FILES: how many files). Where it
// goes: `NODE_OPTIONS=--max-semi-space-size=2` for the run takes about 40 MiB off the peak; of the
// rest, the node binary's own mapped code is about 44 MiB.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { startServer } from './latency.bench';
import { formatResult, type BenchResult } from './types';

const FILES = Number(process.env.FERRY_BENCH_MEMORY_FILES ?? 10_000);
const FILE_BYTES = 4096;
const bin = path.resolve(import.meta.dirname, '../bin/ferry.mjs');

/** CPU time a process has used so far (user + system), in ms. */
function cpuMsOf(pid: number): number {
  // Fields 14 and 15 of /proc/PID/stat, in clock ticks (100 a second on Linux); the name in field 2 may hold spaces.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The kernel's figures for a process, in MiB: peak and current resident set. */
function memoryOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { peak: kib('VmHWM') / 1024, now: kib('VmRSS') / 1024 };
}

/** Items the agent has committed, read from its own state database (read-only, beside it). */
function committed(dbFile: string): number {
  if (!existsSync(dbFile)) return 0;
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM queue WHERE state = 'done'`).get() as { n: number }).n;
  } catch {
    return 0; // not migrated yet
  } finally {
    db.close();
  }
}

export async function run(): Promise<BenchResult[]> {
  if (process.platform !== 'linux') return [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-memory-'));
  const server = await startServer(path.join(tmp, 'server'));
  const folder = path.join(tmp, 'folder');
  mkdirSync(folder);
  const data = randomBytes(FILES * FILE_BYTES);
  for (let i = 0; i < FILES; i++) writeFileSync(path.join(folder, `f${String(i).padStart(5, '0')}.bin`), data.subarray(i * FILE_BYTES, (i + 1) * FILE_BYTES));
  const dataDir = path.join(tmp, 'agent');
  const agent = spawn(process.execPath, [bin, 'agent', '--data', dataDir, '--server', server.url, '--token-file', path.join(tmp, 'server', 'token'), '--folder', `${folder}=bench`, '--control-port', '0'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const started = performance.now();
    for (;;) {
      if (agent.exitCode !== null) throw new Error(`the agent exited with ${agent.exitCode}`);
      if (committed(path.join(dataDir, 'state.db')) >= FILES) break;
      if (performance.now() - started > 300_000) throw new Error('the push did not finish within 5 minutes');
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    const cpuMs = cpuMsOf(agent.pid!);
    const { peak } = memoryOf(agent.pid!);
    // What it settles back to with the folder synced and watched.
    await new Promise((r) => setTimeout(r, 2000));
    const idleRss = memoryOf(agent.pid!).now;
    return [
      { name: `agent peak RSS, ${FILES} × 4 KiB pushed (fresh folder)`, value: Math.round(peak), unit: 'MiB', target: '< 120 MiB (Syncthing 74–77 MiB)', met: peak < 120 },
      { name: '  agent RSS afterwards, synced and watching', value: Math.round(idleRss), unit: 'MiB' },
      { name: '  start to all committed (whole agent process)', value: Number(seconds.toFixed(1)), unit: 's' },
      // The agent as users run it (built CLI, status, Activity, device reports), start-up included.
      { name: '  agent CPU per 1,000 files, start to all committed', value: Math.round((cpuMs * 1000) / FILES), unit: 'ms' },
    ];
  } finally {
    agent.kill('SIGTERM');
    if (agent.exitCode === null) await once(agent, 'exit');
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of await run()) console.log(formatResult(r));
}
