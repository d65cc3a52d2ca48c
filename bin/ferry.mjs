#!/usr/bin/env node
// The `ferry` command. The CLI, the agent and the reference server run from TypeScript source
// through tsx's loader; only the Electron and browser bundles are prebuilt.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../main/control/cli.ts');
process.exitCode = await main(process.argv.slice(2));
