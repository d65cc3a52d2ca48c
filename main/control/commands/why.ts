import path from 'node:path';
import { FerryError, isFerryError } from '../../../protocol/errors';
import type { PathExplanation } from '../../../shared/ui-contract';
import { localKindWord } from '../../../shared/why-words';
import { commonFlags, EXIT_OK, parseCommand, processIo, usageError, folderOptions } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { isBelow, resolveFolder } from './folder-paths';
import { withAgent } from './with-agent';
import { formatBytes, json, printable } from './output';
import { COMMAND_SUMMARIES } from './summaries';
import { unescapeControls, visibleNameAlone } from '../../../shared/visible-name';

const options = folderOptions;

export const definition = {
  name: 'why',
  summary: COMMAND_SUMMARIES.why,
  options,
  synopsis: 'PATH',
  maxPositionals: 1,
  flags: [['--folder ID', 'PATH is in this folder: relative to where you are when typed inside it or leading into it, else to the folder (default: PATH is a file on disk, relative to here)'], ...commonFlags],
  examples: ['ferry why ~/Ferry/notes/todo.txt', 'ferry why notes/todo.txt --folder Ferry --json'],
} satisfies CommandDefinition<typeof options>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const { values, positionals } = parsed;
  const given = positionals[0];
  if (!given) return usageError(definition, io, 'give the PATH to explain', values.json).code;
  return withAgent(definition, values, io, async (client) => {
    const explain = async (typed: string) => {
      // An absolute path names a file on this disk even beside --folder, which it must then be in (a
      // new-user try got "tmp/…/link not known here" for one, read as a path inside the folder).
      if (values.folder && path.isAbsolute(typed)) {
        const found = await client.call('explainPath', { path: typed });
        if (found.folderId !== values.folder) throw new FerryError('not_found', `${typed} is in folder ${found.folderId}, not ${values.folder}`, { status: 404 });
        return found;
      }
      // With --folder, a relative path that leads into the folder from here is that place (a
      // new-user try: `why Ferry/a1.txt --folder docs` in the folder's parent read "not known
      // here"). Without --folder the path names a file on this disk: the agent finds its folder.
      const input = values.folder ? { path: await insideFolder(client, values.folder, typed), folderId: values.folder } : { path: path.resolve(process.cwd(), typed) };
      return client.call('explainPath', input).catch(async (error: unknown) => {
        // Typed outside every folder, a relative path is one inside the folder, as `ferry history`
        // takes it, when the agent has just one (a new-user try: history took it, why did not).
        // Not "." or a path that climbs out (review: `ferry why .` outside the folder read "the synced
        // folder itself").
        const inside = path.posix.normalize(typed.replace(/\\/g, '/'));
        if (values.folder || path.isAbsolute(typed) || inside === '.' || inside === '..' || inside.startsWith('../') || !isFerryError(error) || error.code !== 'not_found') throw error;
        const { folders } = await client.call('getStatus', {});
        if (folders.length === 1) return client.call('explainPath', { path: typed, folderId: folders[0]!.id });
        throw new FerryError('not_found', `${error.message}; for a path inside a folder, say which with --folder (one of ${folders.map((f) => f.id).join(', ')})`, { status: 404 });
      });
    };
    let answer = await explain(given);
    // A name as `ferry status` shows it (`r5\tbad.txt`), typed back: read with its escapes when
    // the text as typed is nothing here (a new-user try got an answer for a name with a backslash).
    const escaped = unescapeControls(given);
    const nothing = (a: PathExplanation) => !a.local.exists && (a.reasons[0]?.code === 'unknown' || a.reasons[0]?.code === 'unsyncable');
    let note: string | undefined;
    if (escaped !== null && nothing(answer)) {
      const read = await explain(escaped).catch(() => undefined);
      if (read && !nothing(read)) {
        answer = read;
        note = `(${given} read with its escapes: \\t as a tab, \\n as a newline, \\xNN as that control character)`;
      }
    }
    io.out(values.json ? json(answer) : [...(note ? [printable(note, true)] : []), ...formatExplanation(answer)].join('\n'));
    return EXIT_OK;
  });
}

export function formatExplanation(answer: PathExplanation): string[] {
  // A path neither here nor ever synced is not "out of sync": there is nothing to sync (found by a new-user try).
  const verdict = answer.inSync ? 'in sync' : answer.reasons[0]?.code === 'unknown' ? 'not known here' : 'not in sync';
  // A name's control characters shown as escapes, as `ferry status` shows them (a new-user try read a raw tab here).
  const lines = [`${visibleNameAlone(answer.path)} in folder ${answer.folderId}: ${verdict}`];
  // The code, unless the message says it in words already (a new-user try read "in_sync: In sync: …").
  const saysCode = (r: PathExplanation['reasons'][number]) => r.message.toLowerCase().startsWith(r.code.replace(/_/g, ' '));
  for (const reason of answer.reasons) lines.push(`  ${saysCode(reason) ? '' : `${reason.code}: `}${printable(reason.message, true)}`);
  const local = answer.local.exists
    ? `on disk: ${localKindWord(answer.local.kind)}${answer.local.size !== null ? `, ${formatBytes(answer.local.size)}` : ''}, modified ${answer.local.modifiedAt}`
    : 'not on disk';
  lines.push(`  ${local}`);
  // Only the revision: the size beside it is what the scan last recorded here, not that revision's
  // (a change not sent yet has it already; found by a new-user try).
  if (answer.synced) lines.push(`  last synced: ${answer.synced.revision ? `revision ${answer.synced.revision}` : 'never'}`);
  return lines;
}

/**
 * A relative path typed beside --folder: where it leads from here when that is below the folder
 * (typed in its parent or in a folder inside it, as `ferry history` takes it), else as typed:
 * folder-relative, or "." and ".." for the agent to say what they are.
 */
async function insideFolder(client: Parameters<typeof resolveFolder>[0], folderId: string, typed: string): Promise<string> {
  const folder = await resolveFolder(client, folderId);
  const relative = path.relative(folder.localPath, path.resolve(process.cwd(), typed));
  return isBelow(relative) ? relative.split(path.sep).join('/') : typed;
}
