import { SETTLE_CONFLICT } from '../../../shared/conflict-words';
import type { ConflictCopy } from '../../../shared/ui-contract';
import { commonFlags, EXIT_OK, parseCommand, processIo, folderOptions } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { json, printable } from './output';
import { COMMAND_SUMMARIES } from './summaries';
import { withAgent } from './with-agent';

const options = folderOptions;

export const definition = {
  name: 'conflicts',
  summary: COMMAND_SUMMARIES.conflicts,
  options,
  flags: [['--folder ID', 'only this folder (default: every folder)'], ...commonFlags],
  examples: ['ferry conflicts', 'ferry conflicts --folder docs --json'],
} satisfies CommandDefinition<typeof options>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const { values } = parsed;
  return withAgent(definition, values, io, async (client) => {
    const { items } = await client.call('listConflicts', values.folder ? { folderId: values.folder } : {});
    io.out(values.json ? json({ items }) : formatConflicts(items));
    return EXIT_OK;
  });
}

/** One line per copy still on disk, newest first: whose version of which file it keeps, and why. */
export function formatConflicts(items: readonly ConflictCopy[]): string {
  if (items.length === 0) return 'No conflict copies are on disk.';
  const lines = items.map((c) => {
    // A copy another device made came through the pull: it keeps that device's version.
    if (c.madeBy !== null) return `  ${printable(c.copyPath)}: ${printable(c.madeBy)}'s version of ${printable(c.path)}, made there when another change took that name (here since ${c.detectedAt}, folder ${c.folderId})`;
    // Made here once and back from the server since (a restore, a folder taken up afresh): the other side is not known now.
    if (c.device === '') return `  ${printable(c.copyPath)}: this computer's version of ${printable(c.path)}, kept as a conflict copy earlier and back from the server (here since ${c.detectedAt}, folder ${c.folderId})`;
    const why = c.restoredFrom !== null ? `${c.deviceName} restored an earlier version (#${c.restoredFrom})` : `${c.deviceName} changed it too`;
    return `  ${printable(c.copyPath)}: this computer's version of ${printable(c.path)}, kept when ${printable(why)} (${c.detectedAt}, folder ${c.folderId})`;
  });
  return [`${items.length} conflict ${items.length === 1 ? 'copy' : 'copies'} on disk, newest first. To settle one, ${SETTLE_CONFLICT}:`, ...lines].join('\n');
}
