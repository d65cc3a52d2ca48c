// Runs `ferry server` in a child process for the CLI test (bin/ferry.mjs is the real entry).
import { runServerCommand } from '../../main/control/commands/server';

process.exitCode = await runServerCommand(process.argv.slice(2));
