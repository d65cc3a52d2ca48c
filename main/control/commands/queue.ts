import { QueueState } from '../../../shared/ui-contract';
import type { QueuePage } from '../../../shared/ui-contract';
import { waitsForServer } from '../../../shared/folder-headline';
import { queueOpWords } from '../../../shared/queue-words';
import { visibleNameAlone } from '../../../shared/visible-name';
import { commonFlags, commonOptions, EXIT_OK, integerFlag, parseCommand, processIo, usageError } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { withAgent } from './with-agent';
import { formatBytes, json, table } from './output';
import { COMMAND_SUMMARIES } from './summaries';

const options = {
  ...commonOptions,
  state: { type: 'string' },
  folder: { type: 'string' },
  limit: { type: 'string' },
  offset: { type: 'string' },
} as const;

export const definition = {
  name: 'queue',
  summary: COMMAND_SUMMARIES.queue,
  options,
  flags: [
    ['--state STATE', `only items in this state: ${QueueState.options.join(', ')}`],
    ['--folder ID', 'only items of this folder (its id, as shown by ferry status)'],
    ['--limit N', 'show at most N items (1-1000, default 50)'],
    ['--offset N', 'skip the first N matching items (default 0), for paging'],
    ...commonFlags,
  ],
  examples: ['ferry queue --data ~/.ferry --state failed', 'ferry queue --data ~/.ferry --limit 100 --offset 100 --json'],
} satisfies CommandDefinition<typeof options>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const { values } = parsed;
  const state = values.state === undefined ? undefined : QueueState.safeParse(values.state);
  if (state && !state.success) {
    // "waiting" is what the list shows for in_flight items held while the server is away, not a state of its own.
    const alias = values.state === 'waiting' ? ` ("waiting" is how in_flight items show while the server cannot be reached: --state in_flight lists them)` : '';
    return usageError(definition, io, `--state must be one of ${QueueState.options.join(', ')}${alias}`, values.json).code;
  }
  const limit = integerFlag('limit', values.limit, 1, 1000);
  const offset = integerFlag('offset', values.offset, 0, Number.MAX_SAFE_INTEGER);
  const problem = limit.problem ?? offset.problem;
  if (problem) return usageError(definition, io, problem, values.json).code;

  return withAgent(definition, values, io, async (client) => {
    const query = {
      ...(state?.data ? { state: state.data } : {}),
      ...(values.folder ? { folderId: values.folder } : {}),
      limit: limit.value ?? 50,
      offset: offset.value ?? 0,
    };
    const page = await client.call('listQueue', query);
    io.out(values.json ? json(page) : formatQueuePage(page, query.offset, query.state, (await client.call('getStatus', {})).state));
    return EXIT_OK;
  });
}

export function formatQueuePage(page: QueuePage, offset: number, state?: QueueState, agentState?: string): string {
  // Taken to be sent, but nothing goes while the server cannot be reached or refuses this device
  // (a new-user try read "in_flight" where `ferry status` said "waiting for the server").
  const linkDown = waitsForServer(agentState);
  if (page.items.length === 0) {
    if (page.total > 0) return `No items at offset ${offset} (${page.total} in total).`;
    // A filter with no match is not an empty queue.
    return state ? `No ${state.replace('_', ' ')} items.` : 'The queue is empty.';
  }
  const rows = page.items.map((item) => [
    String(item.id),
    linkDown && item.state === 'in_flight' ? 'waiting' : item.state,
    queueOpWords({ op: item.op }),
    String(item.attempts),
    item.folderId,
    item.bytesTotal ? `${formatBytes(item.bytesDone)}/${formatBytes(item.bytesTotal)}` : '-',
    // A name's edge spaces quoted: the table trims a line's end, and a trailing space was lost (new-user try).
    (item.movedFrom !== undefined ? `${visibleNameAlone(item.movedFrom)} → ${visibleNameAlone(item.path)}` : visibleNameAlone(item.path)) + (item.error ? `  [${item.error.code}: ${item.error.message}]` : item.nextAttemptAt ? `  [next try ${item.nextAttemptAt}]` : ''),
  ]);
  const waiting = linkDown && page.items.some((item) => item.state === 'in_flight') ? `\nwaiting: taken to be sent, held until the server ${agentState === 'offline' ? 'can be reached' : 'accepts this device again'} ('ferry status' says why; --state in_flight lists them).` : '';
  const shown = `Showing ${offset + 1}-${offset + page.items.length} of ${page.total}.${waiting}`;
  return `${table(['ID', 'STATE', 'OP', 'TRIES', 'FOLDER', 'PROGRESS', 'PATH'], rows)}\n${shown}`;
}
