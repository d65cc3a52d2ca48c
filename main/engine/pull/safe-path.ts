import { lstatSync, promises as fsp, type Stats } from 'node:fs';
import { onDiskName, resolveDiskPath } from '../paths';
import path from 'node:path';
import { FerryError } from '../../../protocol/errors';
import { checkSyncPath } from '../../../protocol/paths';

export type PathCheck = { ok: true; path: string } | { ok: false; reason: string };

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[1-9¹²³]|lpt[1-9¹²³])(\..*)?$/i;
const WINDOWS_BAD_CHARS = /[<>:"|?*]/;

/** Why a single name cannot exist on Windows, or null when it can. */
export function windowsNameProblem(name: string): string | null {
  if (WINDOWS_RESERVED.test(name)) return `'${name}' is a reserved name on Windows`;
  if (WINDOWS_BAD_CHARS.test(name)) return `'${name}' contains a character Windows does not allow`;
  if (/[. ]$/.test(name)) return `'${name}' ends with a dot or space, which Windows does not allow`;
  return null;
}

/** The wire rules of protocol/paths.ts, then the rules of the platform the file lands on. */
export function checkRemotePath(value: unknown, platform: NodeJS.Platform = process.platform): PathCheck {
  const wire = checkSyncPath(value);
  if (!wire.ok) return wire;
  if (platform === 'win32') {
    for (const name of wire.path.split('/')) {
      const problem = windowsNameProblem(name);
      if (problem) return { ok: false, reason: problem };
    }
  }
  return wire;
}

const fold = (p: string): string => p.normalize('NFC').toLowerCase();

/**
 * On a case-insensitive disk two paths that differ only in case (in any component) are one
 * file. Returns the paths that clash with an earlier one in the list: those are skipped.
 */
export function findCaseClashes(paths: readonly string[]): Set<string> {
  const spelled = new Map<string, string>();
  const clashes = new Set<string>();
  for (const p of paths) {
    const prefixes: string[] = [];
    for (const name of p.split('/')) prefixes.push(prefixes.length ? `${prefixes.at(-1)}/${name}` : name);
    if (prefixes.some((prefix) => (spelled.get(fold(prefix)) ?? prefix) !== prefix)) {
      clashes.add(p);
      continue;
    }
    for (const prefix of prefixes) spelled.set(fold(prefix), prefix);
  }
  return clashes;
}

/** Names of the probe files below; one left by a killed process is removed at the next start. */
export const CASE_PROBE_PREFIX = '.Ferry-Case-Probe-';

/** Probes once whether names under `dir` are case-insensitive (macOS and Windows defaults). */
export async function isCaseInsensitiveDir(dir: string): Promise<boolean> {
  const name = `${CASE_PROBE_PREFIX}${process.pid}-${Date.now()}`;
  await fsp.writeFile(path.join(dir, name), '');
  try {
    await fsp.lstat(path.join(dir, name.toLowerCase()));
    return true;
  } catch {
    return false;
  } finally {
    await fsp.rm(path.join(dir, name), { force: true });
  }
}

// Synchronous: an lstat answered from the inode cache costs a few microseconds, a promise
// round trip through the libuv pool several times that, and a pull makes several per file.
// Missing without an exception: most paths of a pull into an empty folder are (paths.ts, exists).
const lstatOrNull = async (p: string): Promise<Stats | null> => lstatSync(p, { throwIfNoEntry: false }) ?? null;

export const unsafePath = (relPath: string, reason: string) =>
  new FerryError('unsafe_path', `Refusing '${relPath}': ${reason}`, { details: { path: relPath } });

export interface Resolved {
  /** Absolute path of the target inside the root. */
  abs: string;
  /** lstat of the target, null when it does not exist. */
  stat: Stats | null;
}

export interface ResolveOptions {
  /** On a case-insensitive disk each existing component must match its on-disk spelling. */
  caseInsensitive?: boolean;
  /**
   * True for a folder the index holds: a file there now is one the user made of a synced folder
   * and the scan has not recorded yet, so what lies below waits for the scan (retryable
   * `parent_gone`) instead of being refused as unsafe for good.
   */
  heldAsFolder?: (relDir: string) => boolean;
}

/**
 * Joins a validated relative path under root, in the disk's spelling of each name (an NFD
 * twin of an NFC key is the same file), and checks that it stays there.
 */
export function joinInside(root: string, relPath: string): string {
  const abs = resolveDiskPath(root, relPath);
  const rel = path.relative(root, abs);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw unsafePath(relPath, 'it resolves outside the folder');
  return abs;
}

/**
 * Resolves a validated relative path under root without following any symlink: every
 * existing parent must be a real directory (checked with lstat). The target itself may be
 * anything; the caller decides what its type means.
 */
export async function resolveInside(root: string, relPath: string, options: ResolveOptions = {}): Promise<Resolved> {
  const abs = joinInside(root, relPath);
  const names = relPath.split('/');
  let dir = root;
  for (let i = 0; i < names.length; i++) {
    const name = onDiskName(dir, names[i]!);
    const here = path.join(dir, name);
    const stat = await lstatOrNull(here);
    if (stat === null) return { abs, stat: null };
    if (options.caseInsensitive && !(await fsp.readdir(dir)).includes(name)) {
      throw unsafePath(relPath, `'${name}' clashes with a local name that differs only in case`);
    }
    const last = i === names.length - 1;
    if (last) return { abs, stat };
    const rel = names.slice(0, i + 1).join('/');
    if (stat.isSymbolicLink()) throw unsafePath(relPath, `'${rel}' is a symlink`);
    if (stat.isFile() && options.heldAsFolder?.(rel)) throw turnedIntoFileHere(rel);
    if (!stat.isDirectory()) throw unsafePath(relPath, `'${rel}' is not a directory`);
    dir = here;
  }
  return { abs, stat: null };
}

/** A synced folder the user turned into a file, not scanned yet: the pull waits a second for the scan. */
export function turnedIntoFileHere(rel: string): FerryError {
  return new FerryError('parent_gone', `The folder ${rel} was turned into a file here since it was synced: the pull runs again once the scan has recorded that`, { retryable: true, retryAfterSeconds: 1 });
}

/**
 * Called synchronously for every parent ensureParents checked (relative path, its lstat;
 * `created` when it made it just now, right after the mkdir), so the caller can record it
 * before anything else looks at it, and record one a killed run made but never recorded.
 */
export type OnParentDir = (relDir: string, stat: Stats, created: boolean) => void;

/**
 * Creates the missing parents of relPath one level at a time, refusing symlinks and files.
 * A folder the index holds (`heldAsFolder`) that is missing, or a file now, is not made: the
 * item fails, retryable, until the scan has recorded what the user did.
 */
export async function ensureParents(root: string, relPath: string, onParent?: OnParentDir, heldAsFolder?: (relDir: string) => boolean): Promise<void> {
  const names = relPath.split('/').slice(0, -1);
  let dir = root;
  for (const [i, name] of names.entries()) {
    dir = path.join(dir, onDiskName(dir, name));
    let stat = await lstatOrNull(dir);
    let created = false;
    if (stat === null) {
      const rel = names.slice(0, i + 1).join('/');
      if (heldAsFolder?.(rel)) {
        // Looked at again a second later, not after a growing backoff: the scan records it in about that.
        throw new FerryError('parent_gone', `The folder ${rel} was moved or deleted here since it was synced: the pull runs again once the scan has recorded that`, { retryable: true, retryAfterSeconds: 1 });
      }
      try {
        await fsp.mkdir(dir);
        created = true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      stat = lstatSync(dir);
    }
    if (stat.isSymbolicLink() || !stat.isDirectory()) {
      const rel = names.slice(0, i + 1).join('/');
      // A synced folder the user turned into a file, not scanned yet: refused, the entry would
      // be passed for good; the scan records the file, then the pull decides it (DU6).
      if (stat.isFile() && heldAsFolder?.(rel)) throw turnedIntoFileHere(rel);
      throw unsafePath(relPath, `'${rel}' is not a real directory`);
    }
    onParent?.(names.slice(0, i + 1).join('/'), stat, created);
  }
}
