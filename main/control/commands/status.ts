import { deleteOrigin, filesToUndo, heldCount, samplePathsLine, sentBeforeHoldLine, undoBatchFiles } from '../../../shared/pending-delete';
import { countOf } from '../../../shared/count-words';
import type { FolderDevices, Status } from '../../../shared/ui-contract';
import { folderHeadline, ignoredOnServerWords, waitsForServer, type FolderHeadline } from '../../../shared/folder-headline';
import { deviceLine } from './devices';
import { commonFlags, commonOptions, EXIT_OK, parseCommand, processIo } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { withAgent } from './with-agent';
import { formatBytes, json, printable } from './output';
import { COMMAND_SUMMARIES } from './summaries';

export const definition = {
  name: 'status',
  summary: COMMAND_SUMMARIES.status,
  options: { ...commonOptions },
  flags: [...commonFlags],
  examples: ['ferry status --data ~/.ferry', 'ferry status --data ~/.ferry --json'],
} satisfies CommandDefinition<typeof commonOptions>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  return withAgent(definition, parsed.values, io, async (client) => {
    const status = await client.call('getStatus', {});
    if (parsed.values.json) {
      io.out(json(status));
      return EXIT_OK;
    }
    // The devices come from the server: a status while it cannot be reached still prints.
    const devices = await client.call('listDevices', {}).catch(() => [] as FolderDevices[]);
    io.out(formatStatus(status, devices, Date.now()));
    return EXIT_OK;
  });
}

/** The folder's word in its status line (the web UI's card says the same, at more length). */
function folderWord(headline: FolderHeadline, state: string): string {
  switch (headline.kind) {
    case 'failing':
      return `${headline.count} failing`;
    case 'unsyncable':
      return `${headline.count} cannot be synced`;
    case 'waiting_for_server':
      return 'waiting for the server';
    case 'waiting_for_folder':
      return 'waiting for the folder to be created';
    case 'paused':
      return 'paused';
    default:
      return state;
  }
}

export function formatStatus(status: Status, devices: readonly FolderDevices[] = [], now = Date.now()): string {
  const { counts, rates } = status;
  const lines = [
    `Agent:     ${status.state}${status.reason ? `: ${status.reason}` : ''} (device ${status.deviceName}, ${status.deviceId}${status.pairedAs ? `, paired as ${status.pairedAs.user}${status.state === 'auth_failed' ? ', refused now' : ''}` : ''})`,
    // Held while the server cannot be reached or refuses this device, nothing is on its way: said so
    // (a new-user try read "1 in flight" while signed out).
    `Queue:     ${counts.pending} pending, ${counts.in_flight} ${waitsForServer(status.state) ? 'waiting for the server' : 'in flight'}, ${counts.retry_wait} waiting to retry, ${counts.failed} failed, ${counts.done} done`,
    `Rates:     up ${formatBytes(rates.uploadBytesPerSec)}/s, down ${formatBytes(rates.downloadBytesPerSec)}/s, ${rates.itemsPerSec.toFixed(1)} items/s`,
    `Last sync: ${status.lastSyncAt ?? 'never'}`,
  ];
  if (status.run) lines.push(`Run:       ${status.run.name}: ${countOf(status.run.itemsLeft, 'item')}, ${formatBytes(status.run.bytesLeft)} left`);
  lines.push(status.folders.length ? 'Folders:' : 'Folders:   none configured');
  for (const folder of status.folders) {
    const pending = folder.pendingDelete;
    const before = pending ? sentBeforeHoldLine(pending) : '';
    const detail = pending
      ? `${pending.count} of ${pending.total} files deleted ${deleteOrigin(pending)}` +
        (pending.sample.length > 0 ? ` (${samplePathsLine({ count: heldCount(pending), sample: pending.sample })})` : '') +
        (before ? `; ${before}` : '') +
        `; answer with 'ferry mass-delete confirm|cancel --folder ${folder.id}'`
      : folder.state === 'disk_full'
        ? `waiting for disk space: ${folder.error ?? 'the disk is full'}`
        : folder.error
          ? `${folder.notMadeYet ? '' : 'error: '}${folder.error}`
        : `last sync ${folder.lastSyncAt ?? 'never'}`;
    // "ok" only when nothing holds the folder back, by the web UI's rule: never while the server
    // cannot be reached or refuses this device, nor beside a failed upload (new-user tries).
    const headline = folderHeadline(folder, status.state);
    // A held delete says what it waits for, not its state's code (`paused_mass_delete`).
    const said = headline.kind === 'pending_delete' ? `waiting for you: ${detail}` : `${folderWord(headline, folder.state)}  ${detail}`;
    lines.push(`  ${folder.id}  ${folder.localPath} -> ${folder.remoteId}  ${said}`);
    if (folder.pullError) lines.push(`    pulls failing: ${folder.pullError}; 'ferry why PATH' says what it keeps from here`);
    if (folder.pullWait) lines.push(`    waiting for you: ${folder.pullWait}`);
    if (folder.incoming) lines.push(`    bringing in ${countOf(folder.incoming, 'change')} from the server`);
    // Kept from here by a rule: not in sync, in the card's words (docs/conflict-rules.md, "Ignored paths").
    const ignored = ignoredOnServerWords(folder);
    if (ignored) lines.push(`    ${ignored}; 'ferry why PATH' names the rule`);
    // Where the user's other versions are, until they settle them (Activity's lines fall off after a while).
    const copies = folder.conflicts ?? 0;
    if (copies > 0) lines.push(`    ${countOf(copies, 'conflict copy', 'conflict copies')} on disk: 'ferry conflicts --folder ${folder.id}' names ${copies === 1 ? 'it' : 'them'}`);
    // Never sent, so never in the queue: named here, or the folder looked in sync (new-user try).
    const unsyncable = folder.unsyncable;
    if (unsyncable && unsyncable.count > 0) {
      const one = unsyncable.count === 1;
      lines.push(`    ${unsyncable.count} ${one ? 'name' : 'names'} here cannot be synced; rename ${one ? 'it' : 'them'} to sync ${one ? 'it' : 'them'}:`);
      for (const name of unsyncable.shown) lines.push(`      ${printable(name.path, true)}: ${name.reason}`);
      if (unsyncable.count > unsyncable.shown.length) lines.push(`      and ${unsyncable.count - unsyncable.shown.length} more (Activity named each when it was found)`);
    }
    const undo = folder.undoDelete;
    const toUndo = undo ? filesToUndo(undo) : 0;
    // Named while it would bring something back; with all back, as the banner's Dismiss.
    if (undo && !pending && toUndo > 0) {
      const files = `${toUndo} of ${undoBatchFiles(undo)}`;
      lines.push(
        undo.sending > 0
          ? `    undo offered until ${undo.expiresAt} for ${files}, once the ${undo.sending} deletes still being sent have gone`
          : `    undo offered until ${undo.expiresAt}: ${files} come back with 'ferry mass-delete undo --folder ${folder.id}'`,
      );
    } else if (undo && !pending) {
      // As the banner says it: nothing is offered that would bring anything back (a new-user try read "undo offered until").
      lines.push(`    all ${undoBatchFiles(undo)} are here again (made again or restored since): there is nothing to undo; 'ferry mass-delete dismiss --folder ${folder.id}' clears this`);
    }
    const shared = devices.find((d) => d.folderId === folder.id)?.devices ?? [];
    // Under a heading: a device line may itself name a device ("vm (device 6a418a7f)").
    if (shared.length > 0) lines.push('    devices:', ...shared.map((device) => `      ${deviceLine(device, now, shared)}`));
  }
  if (status.counts.failed > 0) lines.push(`\n${status.counts.failed} failed; see them with 'ferry queue --state failed', retry with 'ferry retry --all'.`);
  return lines.join('\n');
}
