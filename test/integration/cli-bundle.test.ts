import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/local-temp';

const repo = path.resolve(import.meta.dirname, '../..');

/**
 * bin/ferry.mjs in a tree of its own: a "bundle" and a "source" that each say which one ran, so
 * the test sees the choice the launcher makes from the files' times alone.
 */
function launcherTree(): { dir: string; cleanup: () => void; run: (env?: Record<string, string>) => string; touch: (rel: string, seconds: number) => void } {
  const temp = makeTempDir('ferry-cli-bundle-');
  const dir = temp.dir;
  mkdirSync(path.join(dir, 'bin'));
  mkdirSync(path.join(dir, 'dist/cli'), { recursive: true });
  mkdirSync(path.join(dir, 'main/control'), { recursive: true });
  copyFileSync(path.join(repo, 'bin/ferry.mjs'), path.join(dir, 'bin/ferry.mjs'));
  symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(path.join(dir, 'dist/cli/cli.mjs'), "export async function main() { console.log('bundle'); return 0; }\n");
  writeFileSync(path.join(dir, 'dist/cli/inputs.json'), JSON.stringify(['main/control/cli.ts']));
  writeFileSync(path.join(dir, 'main/control/cli.ts'), "export async function main(): Promise<number> { console.log('source'); return 0; }\n");
  const run = (env: Record<string, string> = {}): string => {
    const result = spawnSync(process.execPath, [path.join(dir, 'bin/ferry.mjs')], { encoding: 'utf8', env: { ...process.env, FERRY_FROM_SOURCE: '', ...env } });
    expect(result.status, result.stderr).toBe(0);
    return result.stdout.trim();
  };
  const touch = (rel: string, seconds: number): void => utimesSync(path.join(dir, rel), seconds, seconds);
  return { ...temp, run, touch };
}

describe('bin/ferry.mjs: prebuilt CLI bundle or TypeScript source', () => {
  let tree: ReturnType<typeof launcherTree> | undefined;
  afterEach(() => tree?.cleanup());

  it('runs the bundle while it is newer than every source it was built from', () => {
    tree = launcherTree();
    tree.touch('main/control/cli.ts', 1_700_000_000);
    tree.touch('dist/cli/cli.mjs', 1_700_000_100);
    expect(tree.run()).toBe('bundle');
  });

  it('runs the source (through tsx) once a source is newer than the bundle, so an edit is never ignored', () => {
    tree = launcherTree();
    tree.touch('dist/cli/cli.mjs', 1_700_000_000);
    tree.touch('main/control/cli.ts', 1_700_000_100);
    expect(tree.run()).toBe('source');
  });

  it('runs the source when a file the bundle was built from is gone, or when FERRY_FROM_SOURCE=1', () => {
    tree = launcherTree();
    tree.touch('main/control/cli.ts', 1_700_000_000);
    tree.touch('dist/cli/cli.mjs', 1_700_000_100);
    expect(tree.run({ FERRY_FROM_SOURCE: '1' })).toBe('source');
    writeFileSync(path.join(tree.dir, 'dist/cli/inputs.json'), JSON.stringify(['main/control/cli.ts', 'main/control/removed.ts']));
    expect(tree.run()).toBe('source');
  });

  it('the real build lists the CLI sources it bundled, and the bundle answers --help with every command', () => {
    const inputs = JSON.parse(readFileSync(path.join(repo, 'dist/cli/inputs.json'), 'utf8')) as string[];
    expect(inputs).toContain('main/control/cli.ts');
    expect(inputs).toContain('main/engine/agent/agent.ts');
    expect(inputs).toContain('server/main.ts');
    expect(inputs.some((file) => file.includes('node_modules'))).toBe(false);
    const { stdout } = spawnSync(process.execPath, ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(path.join(repo, 'dist/cli/cli.mjs'))}); process.exitCode = await main(['--help']);`], { encoding: 'utf8' });
    for (const command of ['agent', 'server', 'start', 'status', 'queue', 'sync-now', 'pause', 'resume', 'retry', 'mass-delete', 'history', 'restore']) expect(stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });
});
