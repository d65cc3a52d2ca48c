import * as conflicts from './conflicts';
import * as devices from './devices';
import * as history from './history';
import * as massDelete from './mass-delete';
import * as pause from './pause';
import * as queue from './queue';
import * as restore from './restore';
import * as resume from './resume';
import * as retry from './retry';
import * as status from './status';
import * as syncNow from './sync-now';
import * as ui from './ui';
import * as why from './why';

/** Clients of a running agent's control API; the CLI dispatcher merges these into `ferry`. */
export interface ClientCommand {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const commands = [status, queue, syncNow, pause, resume, retry, massDelete, devices, why, conflicts, history, restore, ui];

export const clientCommands: Record<string, ClientCommand> = Object.fromEntries(
  commands.map((command) => [command.definition.name, { summary: command.definition.summary, run: (argv: string[]) => command.run(argv) }]),
);
