// `npm run bench [-- NAME…]`: runs every bench/*.bench.ts (or the named ones) in turn and
// prints each figure beside its target, then a Markdown table for the README.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { formatResult, type BenchResult } from './types';

const dir = import.meta.dirname;
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();

const all: Array<BenchResult & { suite: string }> = [];
for (const file of files) {
  const suite = file.replace(/\.bench\.ts$/, '');
  console.log(`\n── ${suite}`);
  const mod = (await import(path.join(dir, file))) as { run: () => Promise<BenchResult[]> };
  const results = await mod.run();
  for (const r of results) {
    console.log(formatResult(r));
    all.push({ ...r, suite });
  }
}

console.log('\n| suite | figure | result | target |\n| --- | --- | --- | --- |');
for (const r of all) {
  const value = Number.isInteger(r.value) ? String(r.value) : r.value.toFixed(2);
  console.log(`| ${r.suite} | ${r.name} | ${value} ${r.unit} | ${r.target ?? '—'}${r.met === false ? ' (not met)' : ''} |`);
}
