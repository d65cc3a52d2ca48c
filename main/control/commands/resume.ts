import { commonFlags, commonOptions, EXIT_OK, parseCommand, processIo } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { withAgent } from './with-agent';
import { json } from './output';
import { COMMAND_SUMMARIES } from './summaries';

export const definition = {
  name: 'resume',
  summary: COMMAND_SUMMARIES.resume,
  options: { ...commonOptions },
  flags: [...commonFlags],
  examples: ['ferry resume --data ~/.ferry'],
} satisfies CommandDefinition<typeof commonOptions>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  return withAgent(definition, parsed.values, io, async (client) => {
    const result = await client.call('resume', {});
    io.out(parsed.values.json ? json(result) : 'Resumed.');
    return EXIT_OK;
  });
}
