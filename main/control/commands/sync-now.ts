import { commonFlags, EXIT_OK, parseCommand, processIo, folderOptions, usageError } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { withAgent } from './with-agent';
import { json } from './output';
import { COMMAND_SUMMARIES } from './summaries';

const options = { ...folderOptions, afresh: { type: 'boolean', default: false } } as const;

export const definition = {
  name: 'sync-now',
  summary: COMMAND_SUMMARIES.syncNow,
  options,
  flags: [
    ['--folder ID', 'sync only this folder (default: all folders)'],
    ['--afresh', "with --folder: take up a synced folder that is gone, or was deleted and made again, as new: made again if need be, the server's files downloaded into it, what is in it kept; nothing is deleted"],
    ...commonFlags,
  ],
  examples: ['ferry sync-now --data ~/.ferry', 'ferry sync-now --data ~/.ferry --folder docs', 'ferry sync-now --afresh --folder docs'],
} satisfies CommandDefinition<typeof options>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const { values } = parsed;
  if (values.afresh) {
    if (!values.folder) return usageError(definition, io, '--afresh takes up one folder: give --folder ID').code;
    const folderId = values.folder;
    return withAgent(definition, values, io, async (client) => {
      const result = await client.call('syncAfresh', { folderId });
      io.out(values.json ? json(result) : `Taking up ${folderId} afresh: the server's files are downloaded into it; nothing is deleted.`);
      return EXIT_OK;
    });
  }
  return withAgent(definition, values, io, async (client) => {
    const result = await client.call('syncNow', values.folder ? { folderId: values.folder } : {});
    io.out(values.json ? json(result) : `Sync requested${values.folder ? ` for ${values.folder}` : ''}.`);
    return EXIT_OK;
  });
}
