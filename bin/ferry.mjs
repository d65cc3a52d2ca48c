#!/usr/bin/env node
// The `ferry` command. It runs the prebuilt bundle (dist/cli, made by `npm run build` and by
// `npm ci`) while that bundle is newer than every source file it was built from, so that a
// command starts without compiling TypeScript; otherwise (a source edited since the last build,
// no build, or FERRY_FROM_SOURCE=1) it runs the TypeScript source through tsx's loader.
import { readFileSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const bundle = new URL('dist/cli/cli.mjs', root);

function bundleIsFresh() {
  if (process.env.FERRY_FROM_SOURCE === '1') return false;
  try {
    const built = statSync(bundle).mtimeMs;
    const inputs = JSON.parse(readFileSync(new URL('dist/cli/inputs.json', root), 'utf8'));
    return inputs.every((file) => statSync(new URL(file, root)).mtimeMs <= built);
  } catch {
    // No build, or a source it was made from is gone.
    return false;
  }
}

let main;
if (bundleIsFresh()) {
  ({ main } = await import(bundle.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../main/control/cli.ts'));
}
process.exitCode = await main(process.argv.slice(2));
