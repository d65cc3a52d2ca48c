import { agoWords } from '../../../shared/ago';
import { deviceStateParts, distinctName, seenWord } from '../../../shared/device-words';
import type { DeviceView, FolderDevices } from '../../../shared/ui-contract';
import { commonFlags, EXIT_FAILURE, EXIT_OK, parseCommand, processIo, folderOptions } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { withAgent } from './with-agent';
import { json, printable } from './output';
import { COMMAND_SUMMARIES } from './summaries';

const options = folderOptions;

export const definition = {
  name: 'devices',
  summary: COMMAND_SUMMARIES.devices,
  options,
  flags: [['--folder ID', 'only this folder (default: every folder)'], ...commonFlags],
  examples: ['ferry devices', 'ferry devices --folder docs --json'],
} satisfies CommandDefinition<typeof options>;

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const { values } = parsed;
  return withAgent(definition, values, io, async (client) => {
    const folders = await client.call('listDevices', values.folder ? { folderId: values.folder } : {});
    io.out(values.json ? json(folders) : formatDevices(folders, Date.now()).join('\n'));
    return folders.some((f) => f.error !== null) ? EXIT_FAILURE : EXIT_OK;
  });
}

/** Per folder, one line per device: its name, what keeps it from being up to date (shared/device-words.ts), when it was last seen. */
export function formatDevices(folders: readonly FolderDevices[], now: number): string[] {
  if (folders.length === 0) return ['No folders configured.'];
  const lines: string[] = [];
  for (const folder of folders) {
    lines.push(`${folder.folderId}:`);
    if (folder.error !== null) lines.push(`  could not ask the server: ${folder.error}`);
    else if (folder.devices.length === 0) lines.push('  no device has reported yet');
    for (const device of folder.devices) lines.push(`  ${deviceLine(device, now, folder.devices)}`);
  }
  return lines;
}

/** `all`: the folder's devices, to tell apart devices of the same name. */
export function deviceLine(device: DeviceView, now: number, all: readonly DeviceView[] = [device]): string {
  // A device names itself on the wire, unchecked: shown, not acted on (an escape would recolour the terminal).
  const name = `${printable(distinctName(device, all), true)}${device.self ? ' (this device)' : ''}`;
  const { parts } = deviceStateParts(device, String, now);
  // Each part names its first three paths: the failing ones with their codes, the names as they are.
  const name3 = (index: number, names: string[], count: number) => {
    if (index >= 0 && names.length > 0) parts[index] += `: ${names.slice(0, 3).join(', ')}${count > Math.min(names.length, 3) ? ', …' : ''}`;
  };
  const unsyncable = device.unsyncableCount ?? 0;
  const failures = unsyncable > 0 ? device.failures.filter((f) => f.code !== 'unsyncable') : device.failures;
  name3(parts.findIndex((p) => p.endsWith(' failing')), failures.map((f) => `${printable(f.path, true)} (${f.code})`), device.failedCount - unsyncable);
  if (unsyncable > 0) name3(parts.findIndex((p) => p.endsWith(' cannot be synced')), device.failures.filter((f) => f.code === 'unsyncable').map((f) => printable(f.path, true)), unsyncable);
  parts.unshift(name);
  parts.push(`${seenWord(device.self)} ${agoWords(Date.parse(device.lastSeen), now)}`);
  return parts.join(' · ');
}
