// `npm start`: the desktop app where Electron can start (a downloaded binary and a display),
// otherwise the headless agent with an embedded reference server and the web UI.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { electronBinary, electronNativeBinding, root } from './lib.mjs';

function electronUnavailableReason() {
  if (!electronBinary()) return "Electron's binary is not installed (its download needs internet access)";
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return 'there is no display';
  return null;
}

function run(cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

const reason = electronUnavailableReason();
if (reason === null) {
  if (!existsSync(electronNativeBinding)) {
    spawnSync(process.execPath, [path.join(root, 'scripts', 'native.mjs'), 'electron'], { stdio: 'inherit' });
  }
  if (!existsSync(path.join(root, 'dist', 'app', 'main.mjs'))) {
    spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  }
  run(electronBinary(), [root, ...process.argv.slice(2)]);
} else {
  console.log(`Ferry: starting headless because ${reason}.`);
  run(process.execPath, [path.join(root, 'bin', 'ferry.mjs'), 'start', ...process.argv.slice(2)]);
}
