// Helpers shared by the install/build/start scripts (plain Node, no dependencies).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The Electron version the lockfile pins, or the range from package.json. */
export function electronVersion() {
  const lock = path.join(root, 'package-lock.json');
  if (existsSync(lock)) {
    const entry = JSON.parse(readFileSync(lock, 'utf8')).packages?.['node_modules/electron'];
    if (entry?.version) return entry.version;
  }
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  return (pkg.optionalDependencies?.electron ?? pkg.devDependencies?.electron ?? '').replace(/^[^\d]*/, '');
}

/** Path of the Electron executable when its binary was downloaded, else null. */
export function electronBinary() {
  const dir = path.join(root, 'node_modules', 'electron');
  const pathFile = path.join(dir, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const exe = path.join(dir, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(exe) ? exe : null;
}

/** Where the better-sqlite3 build for Electron's ABI lives (passed as `nativeBinding`). */
export const electronNativeBinding = path.join(root, 'native', 'electron', 'better_sqlite3.node');

export function warn(lines) {
  const text = Array.isArray(lines) ? lines.join('\n  ') : lines;
  process.stderr.write(`\n\u001b[33mferry: warning:\u001b[0m ${text}\n\n`);
}
