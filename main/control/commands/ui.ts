import { commonFlags, commonOptions, EXIT_OK, parseCommand, processIo } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { json } from './output';
import { COMMAND_SUMMARIES } from './summaries';
import { withAgent } from './with-agent';

export const definition = {
  name: 'ui',
  summary: COMMAND_SUMMARIES.ui,
  options: { ...commonOptions },
  flags: [...commonFlags],
  examples: ['ferry ui --data ~/.ferry'],
} satisfies CommandDefinition<typeof commonOptions>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  return withAgent(definition, parsed.values, io, async (client) => {
    const url = await client.loginLink();
    io.out(parsed.values.json ? json({ url }) : `ui: ${url}`);
    return EXIT_OK;
  });
}
