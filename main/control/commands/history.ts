import { contentMarks, contentNote, previewNote } from '../../../shared/history-words';
import { currentRevision } from '../../../shared/restore-words';
import type { FileVersion } from '../../../shared/ui-contract';
import { commonFlags, commonOptions, EXIT_FAILURE, EXIT_OK, parseCommand, processIo, usageError } from './args';
import type { CommandDefinition, CommandIo } from './args';
import type { ControlClient } from '../control-client';
import { folderRelative, resolveFolder } from './folder-paths';
import { formatBytes, json, printable, shellArg, table } from './output';
import { COMMAND_SUMMARIES } from './summaries';
import { withAgent } from './with-agent';

const options = { ...commonOptions, folder: { type: 'string' }, show: { type: 'string' } } as const;

export const definition = {
  name: 'history',
  summary: COMMAND_SUMMARIES.history,
  synopsis: 'PATH [--show REV]',
  options,
  flags: [
    ['PATH', 'a path in the folder (folder-relative, or an absolute path on this disk inside it)'],
    ['--folder ID', 'the folder (ferry status lists them); needed when the agent syncs more than one'],
    ['--show REV', "print what that version holds (its first 64 KiB) instead of the list; a binary one is refused"],
    ...commonFlags,
  ],
  maxPositionals: 1,
  examples: ['ferry history notes/report.txt', 'ferry history ~/Ferry/notes/report.txt --json', 'ferry history notes/report.txt --show 42 | less'],
} satisfies CommandDefinition<typeof options>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const given = parsed.positionals[0];
  if (!given) return usageError(definition, io, 'name the PATH whose history to show', parsed.values.json).code;
  const revision = parsed.values.show;
  if (revision !== undefined && !/^[1-9][0-9]{0,17}$/.test(revision)) {
    return usageError(definition, io, `--show takes a revision number from the list (ferry history ${shellArg(given)}), not ${JSON.stringify(revision)}`, parsed.values.json).code;
  }
  return withAgent(definition, parsed.values, io, async (client) => {
    const folder = await resolveFolder(client, parsed.values.folder);
    const filePath = folderRelative(folder.localPath, given);
    if (parsed.values.show !== undefined) return show(io, folder.id, filePath, parsed.values.show, parsed.values.json ?? false, client);
    const { items, nameNow } = await client.call('getHistory', { folderId: folder.id, path: filePath });
    io.out(parsed.values.json ? json({ folderId: folder.id, path: filePath, items, ...(nameNow !== undefined ? { nameNow } : {}) }) : formatHistory(folder.id, filePath, items, nameNow));
    // Nothing known of the path exits 1, as `ferry restore` of it does (a new-user try: 0 here, 1 there).
    return items.length === 0 ? EXIT_FAILURE : EXIT_OK;
  });
}

/**
 * `--show REV`: the version's text on stdout, as it is (a control character made visible, as
 * every line this command prints; CRLF line ends as line ends), and what was left out on stderr; a binary version is refused
 * (exit 1): its bytes would be no use on a terminal.
 */
async function show(io: CommandIo, folderId: string, filePath: string, revision: string, asJson: boolean, client: ControlClient): Promise<number> {
  const preview = await client.call('previewVersion', { folderId, path: filePath, revision });
  if (asJson) {
    io.out(json({ folderId, path: filePath, ...preview }));
    return preview.text === null ? EXIT_FAILURE : EXIT_OK;
  }
  const note = previewNote(preview, formatBytes);
  const restoreHint = `Restore it with: ferry restore ${shellArg(filePath)} --revision ${revision} --folder ${folderId}`;
  if (preview.text === null) {
    io.err(`ferry history: version ${revision} of ${printable(filePath, true)} is not text. ${note}\n${restoreHint}`);
    return EXIT_FAILURE;
  }
  // Windows line ends read as line ends, not as a made-visible \r on every line (found by review).
  if (preview.text !== '') io.out(preview.text.replace(/\r\n/g, '\n'));
  if (note) io.err(`${note}\n${restoreHint}`);
  return EXIT_OK;
}

export function formatHistory(folderId: string, filePath: string, items: FileVersion[], nameNow?: string): string {
  if (items.length === 0) {
    // A path typed with the folder's id in front names nothing (a new-user try, from the README's example).
    const inside = filePath.startsWith(`${folderId}/`) ? ` Paths are inside the folder: did you mean ${filePath.slice(folderId.length + 1)}?` : '';
    return `The server keeps no history of ${filePath} in '${folderId}'.${inside}`;
  }
  // Where a version came from, when it was not saved as it is: moved here, or restored; and
  // where a move took the path (its tombstone: renamed, not deleted).
  const origin = (v: FileVersion) =>
    v.movedTo !== undefined ? `moved to ${v.movedTo}` : v.movedFrom !== undefined ? `moved from ${v.movedFrom}` : v.restoredFrom !== undefined ? `restored from ${v.restoredFrom}` : '';
  const noted = items.some((v) => origin(v) !== '');
  // The server's version now, as the web UI's panel marks it (a new-user try could not tell which row it was).
  const current = currentRevision(items);
  // Each version's content: a short fingerprint, and the versions with the same bytes (a new-user
  // try could not tell two of one size apart, nor see a restored one was an earlier one again).
  // A server that lists no content hash: no column.
  const marks = contentMarks(items);
  const content = (v: FileVersion) => {
    const mark = marks.get(v.revision);
    if (!mark) return '-'; // a deletion (its SIZE says so), a folder
    const note = contentNote(mark, (r) => r);
    return note ? `${mark.fingerprint} (${note})` : mark.fingerprint;
  };
  const rows = items.map((v) => [
    v.revision === current ? `${v.revision} (current)` : v.revision,
    v.modifiedAt,
    v.deleted ? (v.movedTo !== undefined ? 'moved' : 'deleted') : v.kind === 'dir' ? 'folder' : formatBytes(v.size),
    ...(marks.size > 0 ? [content(v)] : []),
    v.deviceName ?? v.device,
    ...(noted ? [origin(v)] : []),
  ]);
  // Moved away: a version comes back under the name the file has now (the restore finds it here).
  const after = items[0]?.deleted ? items[0].movedTo : undefined;
  const restoreAt = after !== undefined ? (nameNow ?? after) : filePath;
  const hint = `Restore one with: ferry restore ${shellArg(restoreAt)} --revision REV --folder ${folderId}`;
  // A rename ends the path's history: its earlier versions are under the old name, its later ones under the new.
  const before = items.at(-1)?.movedFrom;
  const earlier = before !== undefined ? `\nIts versions before the move: ferry history ${shellArg(before)} --folder ${folderId}` : '';
  const later =
    after === undefined
      ? ''
      : `\nIts versions since the move: ferry history ${shellArg(after)} --folder ${folderId}${nameNow !== undefined && nameNow !== after ? ` (moved on since; its name now: ${printable(nameNow, true)})` : ''}`;
  return `${filePath} in '${folderId}', newest first:\n${table(['REVISION', 'WHEN', 'SIZE', ...(marks.size > 0 ? ['CONTENT'] : []), 'DEVICE', ...(noted ? ['ORIGIN'] : [])], rows)}\n${hint}${earlier}${later}`;
}
