// Start-up of the `ferry` command as a whole process: `ferry --help` and `ferry --version`
// (node start, the CLI bundle, the dispatcher), wall time and peak RSS, median of ten runs each.
// Run after `npm run build` (npm ci builds too): from stale sources it measures tsx instead.
// `npx tsx bench/startup.bench.ts` runs it alone.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatResult, type BenchResult } from './types';

const ferry = fileURLToPath(new URL('../bin/ferry.mjs', import.meta.url));
const RUNS = 10;

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Wall seconds and peak RSS (MiB) of one whole `node bin/ferry.mjs ARGS` process, via GNU time when present. */
function once(args: string[]): { seconds: number; rssMiB: number } {
  const started = performance.now();
  const timed = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ferry, ...args], { cwd: os.tmpdir(), encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  if (timed.error) {
    const plain = spawnSync(process.execPath, [ferry, ...args], { cwd: os.tmpdir(), encoding: 'utf8' });
    if (plain.status !== 0) throw new Error(`ferry ${args.join(' ')} exited ${plain.status}`);
    return { seconds: (performance.now() - started) / 1000, rssMiB: Number.NaN };
  }
  if (timed.status !== 0) throw new Error(`ferry ${args.join(' ')} exited ${timed.status}: ${timed.stderr}`);
  const kb = Number(timed.stderr.trim().split('\n').pop());
  return { seconds, rssMiB: kb / 1024 };
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const args of [['--help'], ['--version']]) {
    const runs = Array.from({ length: RUNS }, () => once(args));
    const seconds = median(runs.map((r) => r.seconds));
    const rss = median(runs.map((r) => r.rssMiB));
    results.push({ name: `ferry ${args.join(' ')}: whole process`, value: seconds, unit: 's', target: '< 0.15 s', met: seconds < 0.15 });
    if (!Number.isNaN(rss)) results.push({ name: `ferry ${args.join(' ')}: peak RSS`, value: rss, unit: 'MiB', target: '< 60 MiB', met: rss < 60 });
  }
  const baseline = median(Array.from({ length: RUNS }, () => {
    const started = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    return (performance.now() - started) / 1000;
  }));
  results.push({ name: 'node -e 0 on this machine (for scale)', value: baseline, unit: 's' });
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of await run()) console.log(formatResult(r));
}
