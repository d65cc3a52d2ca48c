import { createHash } from 'node:crypto';
import { lstatSync, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { conflictName } from './conflict-name';
import { moveNoClobber } from './no-clobber';
import { isAscii } from './paths';

/**
 * Two spellings of one name in one directory: the same text in NFC and in NFD, which the
 * index keys as one path (paths.ts toKey). A user never makes both on purpose, but a
 * folder renamed into the NFD spelling while a pull created the NFC one (or a file written
 * under one spelling while a download placed the other) leaves both on disk. Read in turn,
 * they would take turns in the index and the queue for ever (chaos seed 1051), so they are
 * merged into the spelling the key resolves to (paths.ts onDiskName: the NFC one when it is
 * there): see docs/conflict-rules.md, "Two spellings of one name".
 */

export interface MergeReport {
  /** Entries moved from the other spelling into the kept one. */
  moved: number;
  /** Files with the same bytes under both spellings: the other spelling's name was removed. */
  duplicates: number;
  /** Files with other bytes under both spellings: the other one kept as a conflict copy (disk paths). */
  copies: string[];
  /** A file and a folder under the two spellings: left as they are (reported). */
  clashes: string[];
}

const emptyReport = (): MergeReport => ({ moved: 0, duplicates: 0, copies: [], clashes: [] });

/** The names of `names` that share their NFC form with another, grouped; the kept one first. */
export function twinGroups(names: readonly string[]): string[][] {
  const byKey = new Map<string, string[]>();
  for (const name of names) {
    if (isAscii(name)) continue;
    const key = name.normalize('NFC');
    byKey.set(key, [...(byKey.get(key) ?? []), name]);
  }
  const groups: string[][] = [];
  for (const [key, group] of byKey) {
    if (group.length < 2) continue;
    // The spelling the key itself resolves to is kept: the NFC one when it is there, else the first listed.
    const keep = group.includes(key) ? key : group[0]!;
    groups.push([keep, ...group.filter((n) => n !== keep)]);
  }
  return groups;
}

const lstatOrNull = (p: string): Promise<Stats | null> =>
  fsp.lstat(p).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
    throw error;
  });

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([fsp.stat(a), fsp.stat(b)]);
  if (sa.size !== sb.size) return false;
  const digest = async (p: string) => createHash('sha256').update(await fsp.readFile(p)).digest('hex');
  return (await digest(a)) === (await digest(b));
}

export interface MergeOptions {
  /** Names the conflict copy of a file whose two spellings hold other bytes. */
  deviceName: string;
}

/** Merges every group of twin spellings directly inside `dir` (absolute). */
export async function mergeTwinSpellings(dir: string, options: MergeOptions): Promise<MergeReport> {
  const report = emptyReport();
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return report;
  }
  for (const [keep, ...others] of twinGroups(names)) {
    for (const other of others) await mergeInto(path.join(dir, other), path.join(dir, keep!), options, report);
  }
  return report;
}

const existsSync = (p: string): boolean => {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

/**
 * Cheap test for a hinted path (two lstats per name outside ASCII, no listing): does any name
 * on its way also exist in its other form (NFC or NFD)?
 */
export function hasTwinAlong(root: string, diskRel: string): boolean {
  let dir = root;
  for (const name of diskRel.split('/')) {
    if (!isAscii(name)) {
      const nfc = name.normalize('NFC');
      const nfd = name.normalize('NFD');
      if (nfc !== nfd && existsSync(path.join(dir, nfc)) && existsSync(path.join(dir, nfd))) return true;
    }
    dir = path.join(dir, name);
  }
  return false;
}

/** Merges the twins of every directory on the way from root to `diskRel` (a hinted path). */
export async function mergeTwinsAlong(root: string, diskRel: string, options: MergeOptions): Promise<MergeReport> {
  const report = emptyReport();
  let dir = root;
  for (const name of diskRel.split('/')) {
    if (!isAscii(name)) add(report, await mergeTwinSpellings(dir, options));
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    const key = name.normalize('NFC');
    dir = path.join(dir, names.includes(key) ? key : (names.find((n) => n.normalize('NFC') === key) ?? name));
  }
  return report;
}

function add(into: MergeReport, from: MergeReport): void {
  into.moved += from.moved;
  into.duplicates += from.duplicates;
  into.copies.push(...from.copies);
  into.clashes.push(...from.clashes);
}

/**
 * Moves what `from` holds into `to` (two spellings of one name). Nothing is replaced: a file is
 * moved only to a free name (a hard link refuses a taken one, moveNoClobber), a directory only
 * after an lstat found its name free (a rename can replace an empty directory: a short window).
 */
async function mergeInto(from: string, to: string, options: MergeOptions, report: MergeReport): Promise<void> {
  const [sf, st] = await Promise.all([lstatOrNull(from), lstatOrNull(to)]);
  if (!sf || !st) return;
  if (sf.isDirectory() && st.isDirectory()) {
    for (const child of await fsp.readdir(from)) {
      const key = child.normalize('NFC');
      const there = (await fsp.readdir(to)).find((n) => n.normalize('NFC') === key);
      if (there !== undefined) {
        await mergeInto(path.join(from, child), path.join(to, there), options, report);
      } else if (await moveFree(path.join(from, child), path.join(to, child))) {
        report.moved++;
      } else {
        // Taken meanwhile: merge with what took it on the next look.
        continue;
      }
    }
    // Empty now, unless something arrived meanwhile (then the next look merges it).
    await fsp.rmdir(from).catch(() => undefined);
    return;
  }
  if (sf.isFile() && st.isFile()) {
    if (await sameBytes(from, to)) {
      await fsp.unlink(from);
      report.duplicates++;
      return;
    }
    // Other bytes under one name: both are versions, so the other spelling's becomes a copy.
    const dir = path.dirname(to);
    for (let attempt = 1; attempt < 100; attempt++) {
      const copy = path.join(dir, conflictName(path.basename(to), options.deviceName, sf.mtime, attempt));
      if (await moveNoClobber(from, copy)) {
        report.copies.push(copy);
        return;
      }
    }
    return;
  }
  report.clashes.push(from);
}

async function moveFree(from: string, to: string): Promise<boolean> {
  const st = await lstatOrNull(from);
  if (!st) return false;
  if (!st.isDirectory()) return moveNoClobber(from, to);
  if (await lstatOrNull(to)) return false;
  await fsp.rename(from, to);
  return true;
}
