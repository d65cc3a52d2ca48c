import { statSync } from 'node:fs';
import path from 'node:path';
import { FerryError } from '../../../protocol/errors';
import { transportProblems, type TransportSettings } from '../../remote/transport';

/**
 * What a set of synced folders must keep, checked in one place for every way settings arrive
 * (the settings window, `ferry agent` flags and --config, saved settings): each local path is
 * absolute, no remote id is used twice, and no folder lies inside another (or is the same):
 * two folders sharing files would each sync the other's changes as their own.
 */
export function folderProblems(folders: ReadonlyArray<{ localPath: string; remoteId: string }>): Record<string, string> {
  const fields: Record<string, string> = {};
  const roots = folders.map((f) => path.resolve(f.localPath));
  folders.forEach((folder, i) => {
    if (!path.isAbsolute(folder.localPath)) fields[`folders.${i}.localPath`] = 'use a full path, such as /home/me/Documents or ~/Documents';
    folders.forEach((other, j) => {
      if (j >= i) return;
      // In words, the other folder by its place in the list: "overlaps folders.0" read as code (a new-user try).
      const them = `the ${ordinal(j + 1)} folder`;
      if (other.remoteId === folder.remoteId) fields[`folders.${i}.remoteId`] = `is already used by ${them}`;
      const [a, b] = [roots[i]!, roots[j]!];
      if (a === b) fields[`folders.${i}.localPath`] = `is the same folder as ${them} (${other.localPath})`;
      else if (a.startsWith(b + path.sep)) fields[`folders.${i}.localPath`] = `is inside ${them} (${other.localPath})`;
      else if (b.startsWith(a + path.sep)) fields[`folders.${i}.localPath`] = `holds ${them} (${other.localPath})`;
    });
  });
  return fields;
}

/** 1st, 2nd, 3rd, 4th, 11th, 12th, 21st… */
function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/**
 * A new folder's path that is a file (not a folder to wait for: a new-user try saw "does not
 * exist (yet)", then "is not a directory"). Not a folder already synced (`known`): one replaced
 * by a file later is that folder's state, and the rest still starts and saves. A path not there
 * is fine: it waits to be created.
 */
export function fileFolderProblems(folders: ReadonlyArray<{ localPath: string }>, known: Iterable<string> = []): Record<string, string> {
  const had = new Set(known);
  const fields: Record<string, string> = {};
  folders.forEach((f, i) => {
    if (!had.has(f.localPath) && isFile(f.localPath)) fields[`folders.${i}.localPath`] = 'is a file, not a folder: choose a folder, or a path where one is to be made';
  });
  return fields;
}

function isFile(p: string): boolean {
  try {
    return !statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** folderProblems as the `invalid_settings` error the UI shows field by field. */
export function validateFolders(folders: ReadonlyArray<{ localPath: string; remoteId: string }>): void {
  invalidIfAny(folderProblems(folders));
}

/** The transport rules (main/remote/transport.ts: plain http only to loopback, a readable CA) as `invalid_settings`. */
export function validateTransport(settings: TransportSettings & { serverUrl: string }): void {
  invalidIfAny(transportProblems(settings));
}

function invalidIfAny(fields: Record<string, string>): void {
  if (!Object.keys(fields).length) return;
  const message = Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('; ');
  throw new FerryError('invalid_settings', message, { details: { fields } });
}
