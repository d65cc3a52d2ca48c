import { restoredWords } from '../../../shared/restore-words';
import type { DeletedFile, RestoreInput, RestoreResult } from '../../../shared/ui-contract';
import { commonFlags, commonOptions, EXIT_FAILURE, EXIT_OK, parseCommand, processIo, usageError } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { folderRelative, isoMoment, resolveFolder } from './folder-paths';
import { formatBytes, json, printable } from './output';
import { COMMAND_SUMMARIES } from './summaries';
import { withAgent } from './with-agent';

const options = {
  ...commonOptions,
  folder: { type: 'string' },
  revision: { type: 'string' },
  at: { type: 'string' },
  deleted: { type: 'boolean', default: false },
  since: { type: 'string' },
  prefix: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
} as const;

export const definition = {
  name: 'restore',
  summary: COMMAND_SUMMARIES.restore,
  synopsis: 'PATH... [--revision R | --at TIME] | --deleted [--since TIME] [--prefix P] [--dry-run]',
  options,
  flags: [
    ['PATH...', 'paths to restore: without --revision or --at, each gets its previous version back (a deleted one, its last)'],
    ['--revision R', 'the revision to bring back (ferry history lists them); one PATH only'],
    ['--at TIME', 'each PATH (a folder: everything under it) as it was at TIME: a date and time (2030-01-02T10:00:00Z) or a time ago (30m, 2h, 3d, 1w); a file renamed since gets its content then under its name now'],
    ['--deleted', 'bring back every deleted file (with --prefix and --since to narrow it): undoes a mass delete'],
    ['--since TIME', 'with --deleted: only files deleted at or after TIME (a date and time, or a time ago: 2h, 3d)'],
    ['--prefix P', 'with --deleted: only files at or below the folder-relative path P'],
    ['--dry-run', 'list what would be restored (each path and the revision it would get back; with --deleted, who deleted each and when), restoring nothing'],
    ['--folder ID', 'the folder (ferry status lists them); needed when the agent syncs more than one'],
    ...commonFlags,
  ],
  maxPositionals: Number.MAX_SAFE_INTEGER,
  examples: [
    'ferry restore --deleted --since 2030-01-02T10:00:00Z --folder docs --dry-run',
    'ferry restore --deleted --since 2030-01-02T10:00:00Z --folder docs',
    'ferry restore notes/report.txt --revision 42 --folder docs',
    'ferry restore photos/2024 --at 2030-01-01T00:00:00Z',
    'ferry restore photos/2024 --at 2h --dry-run',
  ],
} satisfies CommandDefinition<typeof options>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const { values, positionals } = parsed;
  const now = io.now ?? Date.now;
  const at = isoMoment('at', values.at, now);
  const since = isoMoment('since', values.since, now);
  const problem =
    at.problem ??
    since.problem ??
    // Everything is as it was at a moment still to come: nothing to do, and most likely a typo.
    (at.value !== undefined && Date.parse(at.value) > now() ? `--at ${at.value} is in the future: give a moment that has passed` : undefined) ??
    (values.deleted
      ? positionals.length > 0 || values.revision !== undefined || values.at !== undefined
        ? '--deleted takes no PATH, --revision or --at (narrow it with --prefix and --since)'
        : undefined
      : positionals.length === 0
        ? 'name the PATHs to restore, or use --deleted'
        : values.since !== undefined || values.prefix !== undefined
          ? '--since and --prefix go with --deleted'
          : values.revision !== undefined && values.at !== undefined
            ? 'give --revision or --at, not both'
            : values.revision !== undefined && positionals.length > 1
              ? '--revision names a version of one path: give one PATH'
              : undefined);
  if (problem) return usageError(definition, io, problem, values.json).code;

  return withAgent(definition, values, io, async (client) => {
    const folder = await resolveFolder(client, values.folder);
    const input: RestoreInput = values.deleted
      ? { folderId: folder.id, deleted: true, ...(values.prefix ? { prefix: folderRelative(folder.localPath, values.prefix) } : {}), ...(since.value ? { since: since.value } : {}) }
      : {
          folderId: folder.id,
          paths: positionals.map((p) => folderRelative(folder.localPath, p)),
          ...(values.revision ? { revision: values.revision } : {}),
          ...(at.value ? { at: at.value } : {}),
          ...(values['dry-run'] ? { dryRun: true } : {}),
        };
    if ('deleted' in input && values['dry-run']) {
      // A look before the restore: --deleted alone brings back every deleted file still kept,
      // the ones deleted on purpose too (a new-user try asked for a preview).
      const { items } = await client.call('listDeleted', { folderId: folder.id, ...(input.prefix ? { prefix: input.prefix } : {}), ...(input.since ? { since: input.since } : {}), limit: 100_000 });
      io.out(values.json ? json({ folderId: folder.id, items }) : formatDryRun(folder.id, items));
      return EXIT_OK;
    }
    const result = await client.call('restore', input);
    // A folder restored by its path alone comes back empty: said, with the ways to its files (a
    // new-user try restored a deleted folder and found it empty on both devices, unsaid).
    // Only a path asked for that is a folder: the deleted folders above a restored file come back too (found by review).
    const asked: readonly string[] = 'paths' in input ? (input.paths ?? []) : [];
    const folders = result.wouldRestore
      ? result.wouldRestore.filter((w) => w.kind === 'dir' && asked.includes(w.path)).map((w) => w.path)
      : result.folders > 0 && asked.length === 1 && !(result.paths ?? []).includes(asked[0]!) && !result.skipped.some((s) => s.path === asked[0]) && !result.failed.some((f) => f.path === asked[0])
        ? [asked[0]!]
        : [];
    const emptyHint =
      at.value === undefined && folders.length > 0 && !values.json
        ? `\n  a folder comes back by itself: files deleted with it stay deleted; 'ferry restore --deleted --prefix ${printable(folders[0]!)}/' brings them back, or 'ferry restore ${printable(folders[0]!)} --at TIME' the folder as it was then`
        : '';
    if (result.wouldRestore) {
      io.out(values.json ? json({ folderId: folder.id, dryRun: true, ...result }) : `${formatWouldRestore(folder.id, result, at.value)}${emptyHint}`);
      return result.failed.length > 0 ? EXIT_FAILURE : EXIT_OK;
    }
    // Asked for deleted files and none found: say where it looked (a new-user try read a bare "Nothing was restored").
    const where = [values.prefix ? ` under ${printable(folderRelative(folder.localPath, values.prefix), true)}` : '', since.value ? ` since ${since.value}` : ''].join('');
    const none = values.deleted && result.restored + result.folders + result.failed.length + result.skipped.length === 0 ? `\n  nothing${where} is deleted on the server ('ferry history PATH' lists a file's versions)` : '';
    io.out(values.json ? json({ folderId: folder.id, ...result }) : `${formatRestore(folder.id, result)}${none}${emptyHint}`);
    return result.failed.length > 0 ? EXIT_FAILURE : EXIT_OK;
  });
}

/** Restored paths listed by name in the text; --json carries them all. */
const RESTORED_SHOWN = 20;

/** What `--deleted` would bring back, newest deletion first as the server lists them; nothing is restored. */
export function formatDryRun(folderId: string, items: readonly DeletedFile[]): string {
  const back = items.filter((i) => i.lastLive !== null);
  if (back.length === 0) return `Nothing would be restored in '${folderId}': no deleted file the server keeps a version of matches.`;
  const lines = [`Would restore ${kindWords(back)} in '${folderId}' (nothing restored yet; run again without --dry-run):`];
  for (const i of back.slice(0, RESTORED_SHOWN)) lines.push(`  ${printable(i.path)}${i.kind === 'dir' ? '/' : ''}: deleted ${i.deletedAt} by ${printable(i.deviceName ?? i.device)}`);
  if (back.length > RESTORED_SHOWN) lines.push(`  and ${(back.length - RESTORED_SHOWN).toLocaleString('en')} more (--json lists them all)`);
  return lines.join('\n');
}

/** "3 files", "2 folders", "3 files and 2 folders": by their kind where it is known (a file otherwise). */
function kindWords(items: ReadonlyArray<{ kind?: 'file' | 'dir' | undefined }>): string {
  const folders = items.filter((s) => s.kind === 'dir').length;
  return restoredWords({ restored: items.length - folders, folders })?.what ?? '';
}

/**
 * What a restore of paths would do (`--dry-run` with PATH, --revision or --at): each path and the
 * revision it would get back, then what it would skip, as the restore says it; nothing is restored.
 */
export function formatWouldRestore(folderId: string, result: RestoreResult, at?: string): string {
  const would = result.wouldRestore ?? [];
  const count = result.wouldCount ?? would.length;
  const lines = [
    count === 0
      ? `Nothing would be restored in '${folderId}'${at !== undefined ? ` as it was at ${at}` : ''} (a dry run: nothing restored).`
      : `Would restore ${kindWords(would)}${count > would.length ? ` (${count.toLocaleString('en')} in all)` : ''} in '${folderId}'${at !== undefined ? ` as it was at ${at}` : ''} (nothing restored yet; run again without --dry-run):`,
  ];
  for (const w of would.slice(0, RESTORED_SHOWN)) {
    const version = [w.modifiedAt, w.kind === 'file' && w.size !== undefined ? formatBytes(w.size) : undefined].filter(Boolean).join(', ');
    lines.push(`  ${printable(w.path)}${w.kind === 'dir' ? '/' : ''}: revision ${w.revision}${w.from !== undefined ? ` of ${printable(w.from)} (renamed since)` : ''}${version ? ` (${version})` : ''}`);
  }
  if (count > RESTORED_SHOWN) lines.push(`  and ${(count - RESTORED_SHOWN).toLocaleString('en')} more (--json lists ${would.length < count ? `the first ${would.length}` : 'them all'})`);
  // What it would leave and why, and what it does not know: the restore's own lines, below its headline.
  const rest = formatRestore(folderId, { ...result, restored: 0, folders: 0, paths: [] }).split('\n').slice(1);
  return [...lines, ...rest].join('\n');
}

export function formatRestore(folderId: string, result: RestoreResult): string {
  const back = restoredWords(result);
  const lines = [back ? `Restored ${back.what} in '${folderId}' on the server; every device gets ${back.one ? 'it' : 'them'} with its next pull.` : `Nothing was restored in '${folderId}'.`];
  // Which files came back, by name (a new-user try could not tell where a restore had put one).
  const paths = result.paths ?? [];
  // With the revision each brought back and the one it is now (`ferry history` lists both).
  const versions = new Map((result.versions ?? []).map((v) => [v.path, v]));
  const which = (p: string) => {
    const v = versions.get(p);
    return v?.restoredFrom !== undefined ? ` to revision ${v.restoredFrom} (saved as revision ${v.revision})` : '';
  };
  for (const p of paths.slice(0, RESTORED_SHOWN)) lines.push(`  restored: ${printable(p)}${which(p)}`);
  if (result.paths !== undefined && result.restored > Math.min(paths.length, RESTORED_SHOWN)) lines.push(`  and ${result.restored - Math.min(paths.length, RESTORED_SHOWN)} more (--json lists ${paths.length < result.restored ? `the first ${paths.length}` : 'them all'})`);
  // A path typed with the folder's id in front names nothing (a new-user try, as for ferry history).
  const inside = (f: RestoreResult['failed'][number]) => (f.code === 'not_found' && f.path.startsWith(`${folderId}/`) ? `; paths are inside the folder: did you mean ${printable(f.path.slice(folderId.length + 1))}?` : '');
  for (const f of result.failed) lines.push(`  not restored: ${printable(f.path)}: ${f.message} (${f.code})${inside(f)}`);
  // A folder as it was at a moment: its files that did not change since are left as they are, in
  // one line, not one each (a new-user try read a screenful of "skipped").
  const unchanged = result.skipped.filter((s) => s.reason.startsWith('it has not changed since '));
  for (const s of result.skipped) if (!unchanged.includes(s)) lines.push(`  skipped: ${printable(s.path)}: ${s.reason}`);
  if (unchanged.length > 0) lines.push(`  ${unchanged.length === 1 ? `${printable(unchanged[0]!.path)} has` : `${kindWords(unchanged)} have`} not changed since then: left as ${unchanged.length === 1 ? 'it is' : 'they are'}`);
  return lines.join('\n');
}
