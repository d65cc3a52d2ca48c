import { registerCommands } from '../cli';

// The command table. Each entry loads its module only when that command runs.
registerCommands({});
