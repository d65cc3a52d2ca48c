// Runs after `npm install` / `npm ci`:
// 1. Electron is an optional dependency: where its binary download fails (no access to its
//    release host), npm drops the package silently. We say so once, and put the package back
//    without its binary so that its type definitions and `require('electron')` stay available.
// 2. Where the binary is present, build better-sqlite3 for Electron's ABI (native/electron).
// 3. Build the bundles (renderer, Electron main and preload) into dist/.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { electronBinary, electronVersion, root, warn } from './lib.mjs';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function restoreElectronTypings(version) {
  const target = path.join(root, 'node_modules', 'electron');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferry-electron-'));
  try {
    const tarball = execFileSync(npm, ['pack', `electron@${version}`, '--silent', '--pack-destination', tmp], {
      cwd: tmp,
      encoding: 'utf8',
      shell: process.platform === 'win32',
    })
      .trim()
      .split('\n')
      .pop();
    mkdirSync(target, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(tmp, tarball), '-C', target, '--strip-components=1']);
    return true;
  } catch (error) {
    warn(`could not restore Electron's type definitions either: ${error.message}`);
    return false;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const version = electronVersion();
if (!existsSync(path.join(root, 'node_modules', 'electron', 'package.json'))) {
  warn([
    `Electron ${version} could not be installed: its binary download failed (this machine cannot reach Electron's release host).`,
    'Ferry installs without it: `npm start` runs the headless agent with its web UI, and the tests run as usual.',
    'On a machine with internet access, `npm ci` downloads Electron and `npm start` opens the desktop app.',
  ]);
  restoreElectronTypings(version);
} else if (electronBinary()) {
  const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'native.mjs'), 'electron'], { stdio: 'inherit' });
  if (result.status !== 0) warn('better-sqlite3 could not be built for Electron; `npm start` will retry.');
}

const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
process.exit(build.status ?? 1);
