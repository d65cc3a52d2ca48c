import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

// The layer rules (docs/architecture.md), proven against the real lint config: each fixture is linted
// as if it stood at a path inside a layer, and must be refused there.
const root = path.resolve(import.meta.dirname, '../..');
const fixture = (name: string) => readFileSync(path.join(root, 'test/fixtures/lint', name), 'utf8');
const eslint = new ESLint({ cwd: root });

async function boundaryErrors(fixtureName: string, asPath: string): Promise<string[]> {
  const [result] = await eslint.lintText(fixture(fixtureName), { filePath: path.join(root, asPath) });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
    .map((m) => m.message);
}

describe('lint enforces the layer boundaries', () => {
  it.each([
    ['the engine', 'main/engine/__fixture__.ts'],
    ['the store', 'main/store/__fixture__.ts'],
    ['the server', 'server/__fixture__.ts'],
    ['the wire contract', 'protocol/__fixture__.ts'],
    ['the renderer', 'renderer/__fixture__.ts'],
    ['the UI contract', 'shared/ui-contract.ts'],
  ])("refuses 'electron' in %s", async (_layer, asPath) => {
    const errors = await boundaryErrors('imports-electron.ts', asPath);
    expect(errors.join('\n')).toMatch(/electron/);
  });

  it("allows 'electron' in main/app and the preload bridge", async () => {
    expect(await boundaryErrors('imports-electron.ts', 'main/app/__fixture__.ts')).toEqual([]);
    expect(await boundaryErrors('imports-electron.ts', 'preload/bridge.ts')).toEqual([]);
  });

  it('refuses main/ imports in the renderer', async () => {
    expect((await boundaryErrors('imports-main.ts', 'renderer/__fixture__.ts')).join('\n')).toMatch(/contract/);
  });

  it.each([
    ['renderer/__fixture__.ts', 'imports-node-fs.ts'],
    ['renderer/__fixture__.ts', 'imports-bare-builtin.ts'],
    ['protocol/__fixture__.ts', 'imports-node-fs.ts'],
    ['shared/ui-contract.ts', 'imports-bare-builtin.ts'],
  ])('refuses Node built-ins in %s (%s)', async (asPath, name) => {
    expect((await boundaryErrors(name, asPath)).join('\n')).toMatch(/pure/);
  });

  it('accepts a clean module in every pure layer', async () => {
    for (const asPath of ['renderer/__fixture__.ts', 'protocol/__fixture__.ts', 'shared/ui-contract.ts']) {
      expect(await boundaryErrors('clean.ts', asPath)).toEqual([]);
    }
  });

  it.each([
    ['the UI contract', 'imports-ui-contract.ts', 'main/engine/agent/__fixture__.ts', /UI contract/],
    ['main/app', 'imports-app.ts', 'main/engine/__fixture__.ts', /main\/app/],
    ['main/control', 'imports-control.ts', 'main/engine/agent/__fixture__.ts', /main\/control/],
  ])('refuses %s in the engine', async (_what, name, asPath, message) => {
    expect((await boundaryErrors(name, asPath)).join('\n')).toMatch(message);
  });

  it('refuses pull/ in the scanner and its spellings merge, but not in the rest of the engine', async () => {
    expect((await boundaryErrors('imports-pull.ts', 'main/engine/scanner.ts')).join('\n')).toMatch(/scanner does not import pull/);
    expect((await boundaryErrors('imports-pull.ts', 'main/engine/spellings.ts')).join('\n')).toMatch(/scanner does not import pull/);
    expect(await boundaryErrors('imports-pull.ts', 'main/engine/local-side.ts')).toEqual([]);
  });

  it('lets the engine import its own modules, and the hosts import the UI contract', async () => {
    expect(await boundaryErrors('imports-engine-sibling.ts', 'main/engine/scanner.ts')).toEqual([]);
    expect(await boundaryErrors('imports-ui-contract.ts', 'main/ui-adapter/__fixture__.ts')).toEqual([]);
    expect(await boundaryErrors('imports-ui-contract.ts', 'main/control/__fixture__.ts')).toEqual([]);
  });

  it('makes the eslint command exit non-zero on a violation', () => {
    const bin = path.join(root, 'node_modules/eslint/bin/eslint.js');
    const lint = (source: string) =>
      spawnSync(process.execPath, [bin, '--max-warnings=0', '--stdin', '--stdin-filename', 'renderer/__fixture__.ts'], {
        cwd: root,
        input: source,
        encoding: 'utf8',
      });
    const bad = lint(fixture('imports-main.ts'));
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/no-restricted-imports/);
    expect(lint(fixture('clean.ts')).status).toBe(0);
  });
});
