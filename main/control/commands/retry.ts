import { commonFlags, commonOptions, EXIT_OK, integerFlag, parseCommand, processIo, usageError } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { withAgent } from './with-agent';
import { json } from './output';
import { COMMAND_SUMMARIES } from './summaries';

const options = { ...commonOptions, all: { type: 'boolean', default: false } } as const;

export const definition = {
  name: 'retry',
  summary: COMMAND_SUMMARIES.retry,
  synopsis: '(--all | ID)',
  options,
  flags: [['--all', 'retry every failed item'], ['ID', 'retry the item with this id (see ferry queue --state failed)'], ...commonFlags],
  maxPositionals: 1,
  examples: ['ferry retry --data ~/.ferry --all', 'ferry retry --data ~/.ferry 42'],
} satisfies CommandDefinition<typeof options>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const { values, positionals } = parsed;
  const rawId = positionals[0];
  if (values.all === (rawId !== undefined)) return usageError(definition, io, 'give either --all or one item ID', values.json).code;
  const id = integerFlag('ID', rawId, 1, Number.MAX_SAFE_INTEGER);
  if (id.problem) return usageError(definition, io, `ID must be a positive whole number, not ${JSON.stringify(rawId)}`, values.json).code;

  return withAgent(definition, values, io, async (client) => {
    const result = await client.call('retry', id.value !== undefined ? { id: id.value } : { all: true });
    const noun = result.retried === 1 ? 'item' : 'items';
    io.out(values.json ? json(result) : result.retried ? `Retrying ${result.retried} ${noun}.` : 'Nothing to retry: no failed items.');
    return EXIT_OK;
  });
}
