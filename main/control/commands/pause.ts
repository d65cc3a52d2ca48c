import { commonFlags, commonOptions, EXIT_OK, parseCommand, processIo } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { withAgent } from './with-agent';
import { json } from './output';
import { COMMAND_SUMMARIES } from './summaries';

export const definition = {
  name: 'pause',
  summary: COMMAND_SUMMARIES.pause,
  options: { ...commonOptions },
  flags: [...commonFlags],
  examples: ['ferry pause --data ~/.ferry'],
} satisfies CommandDefinition<typeof commonOptions>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  return withAgent(definition, parsed.values, io, async (client) => {
    const result = await client.call('pause', {});
    io.out(parsed.values.json ? json(result) : "Paused. Resume with 'ferry resume'.");
    return EXIT_OK;
  });
}
