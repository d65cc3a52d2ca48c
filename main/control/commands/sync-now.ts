import { commonFlags, EXIT_OK, parseCommand, processIo, folderOptions } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { withAgent } from './with-agent';
import { json } from './output';
import { COMMAND_SUMMARIES } from './summaries';

const options = folderOptions;

export const definition = {
  name: 'sync-now',
  summary: COMMAND_SUMMARIES.syncNow,
  options,
  flags: [['--folder ID', 'sync only this folder (default: all folders)'], ...commonFlags],
  examples: ['ferry sync-now --data ~/.ferry', 'ferry sync-now --data ~/.ferry --folder docs'],
} satisfies CommandDefinition<typeof options>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const { values } = parsed;
  return withAgent(definition, values, io, async (client) => {
    const result = await client.call('syncNow', values.folder ? { folderId: values.folder } : {});
    io.out(values.json ? json(result) : `Sync requested${values.folder ? ` for ${values.folder}` : ''}.`);
    return EXIT_OK;
  });
}
