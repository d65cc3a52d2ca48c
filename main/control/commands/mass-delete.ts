import { FerryError } from '../../../protocol/errors';
import { heldCount, noUndoOffered, undoBatchFiles } from '../../../shared/pending-delete';
import { commonFlags, EXIT_FAILURE, EXIT_OK, parseCommand, processIo, usageError, folderOptions } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { json } from './output';
import { formatRestore } from './restore';
import { withAgent } from './with-agent';
import { COMMAND_SUMMARIES } from './summaries';
import { pickFolder } from './folder-paths';

const options = folderOptions;

export const definition = {
  name: 'mass-delete',
  summary: COMMAND_SUMMARIES.massDelete,
  synopsis: '(confirm | cancel | undo | dismiss) --folder ID',
  options,
  flags: [
    ['confirm', 'let the deletes happen (the server\'s deletes here, or this disk\'s deletes on the server)'],
    ['cancel', 'keep the files: re-upload them, or restore them from the server'],
    ['undo', 'bring back what the last confirmed mass delete removed, on every device (offered for a day)'],
    ['dismiss', 'stop offering undo for the last confirmed mass delete'],
    ['--folder ID', 'the folder that is waiting (ferry status shows it); needed when the agent has several'],
    ...commonFlags,
  ],
  maxPositionals: 1,
  examples: ['ferry mass-delete cancel --folder docs --data ~/.ferry', 'ferry mass-delete undo --folder docs'],
} satisfies CommandDefinition<typeof options>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const { values, positionals } = parsed;
  const answer = positionals[0];
  if (answer !== 'confirm' && answer !== 'cancel' && answer !== 'undo' && answer !== 'dismiss') {
    return usageError(definition, io, "say 'confirm', 'cancel', 'undo' or 'dismiss'", values.json).code;
  }

  return withAgent(definition, values, io, async (client) => {
    // The only folder needs no name, as `ferry history` takes it (a new-user try was refused with one folder).
    const folder = pickFolder((await client.call('getStatus', {})).folders, values.folder);
    const folderId = folder.id;
    if (answer === 'undo') {
      const result = await client.call('undoMassDelete', { folderId });
      io.out(values.json ? json({ folderId, ...result }) : formatRestore(folderId, result));
      return result.failed.length > 0 ? EXIT_FAILURE : EXIT_OK;
    }
    if (answer === 'dismiss') {
      const offer = folder.undoDelete;
      if (!offer) throw new FerryError('nothing_to_undo', `Folder '${folderId}' offers no undo: ${noUndoOffered()}`);
      const result = await client.call('dismissUndo', { folderId });
      io.out(values.json ? json({ ...result, folderId, dismissed: { count: offer.count, side: offer.side, devices: offer.devices } }) : `Dismissed: undo is no longer offered for the ${undoBatchFiles(offer)} in '${folderId}'.`);
      return EXIT_OK;
    }
    if (!folder.pendingDelete) throw new FerryError('not_held', `Folder '${folderId}' has no mass delete waiting for an answer`);
    const result = await client.call(answer === 'confirm' ? 'confirmMassDelete' : 'cancelMassDelete', { folderId });
    const { count, total, side, devices } = folder.pendingDelete;
    // Those that had gone to the server before the hold were not held: a yes sends the others.
    const held = heldCount(folder.pendingDelete);
    const sent = count - held;
    // JSON says what was answered, as the text does: a script logs which delete it let through.
    io.out(
      values.json
        ? json({ ...result, folderId, answer: answer === 'confirm' ? 'confirmed' : 'cancelled', count, total, side, devices, ...(sent > 0 ? { sentBeforeHold: sent } : {}) })
        : answer === 'confirm'
          ? `Confirmed: deleting ${held} of ${total} files in '${folderId}'${sent > 0 ? ` (${sent} more ${side === 'pull' ? 'were deleted here by the pulls just before the hold' : 'had gone to the server before the hold'})` : ''}.`
          : `Cancelled: the ${count} files in '${folderId}' are kept.`,
    );
    return EXIT_OK;
  });
}
