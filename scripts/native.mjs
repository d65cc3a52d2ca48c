// Builds better-sqlite3 for Electron's ABI into native/electron/better_sqlite3.node, leaving
// node_modules/better-sqlite3 built for Node (the tests, the CLI and the server use that one).
// The Electron main process opens its databases with { nativeBinding } pointing here.
// Order: a prebuilt binary for this Electron version (prebuild-install), else a source build
// against Electron's headers (node-gyp). Both need the internet, as Electron itself does.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { electronNativeBinding, electronVersion, root } from './lib.mjs';

const runtime = process.argv[2] ?? 'electron';
if (runtime !== 'electron') {
  console.error('usage: node scripts/native.mjs electron');
  process.exit(2);
}
const version = electronVersion();
if (existsSync(electronNativeBinding) && !process.argv.includes('--force')) process.exit(0);

// Work on a copy so the Node build in node_modules stays untouched.
const work = mkdtempSync(path.join(os.tmpdir(), 'ferry-native-'));
const pkg = path.join(work, 'better-sqlite3');
cpSync(path.join(root, 'node_modules', 'better-sqlite3'), pkg, { recursive: true });
rmSync(path.join(pkg, 'build'), { recursive: true, force: true });
const bin = (name) => path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name);
const run = (cmd, args) => spawnSync(cmd, args, { cwd: pkg, stdio: 'inherit', shell: process.platform === 'win32' }).status === 0;

let ok = run(bin('prebuild-install'), ['--runtime', 'electron', '--target', version, '--arch', process.arch]);
if (!ok) {
  ok = run(bin('node-gyp'), [
    'rebuild', '--release', `--target=${version}`, `--arch=${process.arch}`, '--dist-url=https://electronjs.org/headers',
  ]);
}
const built = path.join(pkg, 'build', 'Release', 'better_sqlite3.node');
if (ok && existsSync(built)) {
  mkdirSync(path.dirname(electronNativeBinding), { recursive: true });
  copyFileSync(built, electronNativeBinding);
  console.log(`ferry: better-sqlite3 built for Electron ${version} at ${path.relative(root, electronNativeBinding)}`);
}
rmSync(work, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
