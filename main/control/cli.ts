import { ferryVersion } from './version';

/**
 * `ferry <command>`: one dispatcher for the reference server, the headless agent and the
 * clients of a running agent's control API. Commands load lazily so `ferry status` stays quick.
 */
export interface Command {
  run(argv: string[]): Promise<number>;
}

type CommandTable = Record<string, { summary: string; load: () => Promise<Command> }>;

const commands: CommandTable = {};

/** Registers commands (kept separate so each command module stays out of the dispatcher). */
export function registerCommands(table: CommandTable): void {
  Object.assign(commands, table);
}


function usage(): string {
  const lines = ['Usage: ferry <command> [options]', '', 'Commands:'];
  const names = Object.keys(commands).sort();
  const width = Math.max(...names.map((n) => n.length), 8);
  for (const name of names) lines.push(`  ${name.padEnd(width)}  ${commands[name]!.summary}`);
  lines.push('', 'Run `ferry <command> --help` for the options of a command.');
  return lines.join('\n');
}

/**
 * `ferry … | head -1`: the reader went away before the output ended. What is left has nowhere to
 * go, which is no error of the command (a new-user try got a stack trace, "write EPIPE").
 */
export function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  await import('./commands/registry');
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    console.log(ferryVersion());
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    // With --json, the one error object every command prints (docs: README, "--json").
    if (rest.includes('--json')) console.error(JSON.stringify({ error: { code: 'usage', message: `unknown command '${name}'; run 'ferry --help' for the commands`, retryable: false } }, null, 2));
    else console.error(`ferry: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await (await entry.load()).run(rest);
  } catch (error) {
    const err = error as { code?: string; message?: string };
    console.error(`ferry ${name}: ${err.message ?? String(error)}${err.code ? ` (${err.code})` : ''}`);
    return 1;
  }
}
