// Runs `ferry server …` in a child process for the CLI tests, through the real dispatcher (as
// bin/ferry.mjs does), so errors print as a user sees them.
import { main } from '../../main/control/cli';

process.exitCode = await main(['server', ...process.argv.slice(2)]);
