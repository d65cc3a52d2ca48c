import { lstatSync, readdirSync, type Stats } from 'node:fs';
import path from 'node:path';
import { checkSyncPath } from '../../protocol/paths';

/**
 * The index key of an on-disk path: relative to the root, '/'-separated, NFC.
 * The disk path itself is kept for I/O: on Linux an NFD name only opens by its NFD bytes.
 */
export function toKey(diskRel: string): string {
  const slashed = path.sep === '/' ? diskRel : diskRel.split(path.sep).join('/');
  return slashed.normalize('NFC');
}

// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const SUSPECT = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\\\uD800-\uDFFF\uFFFD]/;
const DRIVE_PREFIX = /^[A-Za-z]:/;
/** At most 3 UTF-8 bytes per UTF-16 unit outside surrogates: these lengths are within 255 and 4096 bytes. */
const SAFE_NAME_CHARS = 85;
const SAFE_PATH_CHARS = 1365;

/**
 * Why a local path cannot be synced, or null (docs/conflict-rules.md, "Names that cannot be
 * synced"): what the wire refuses, or a name that is not valid UTF-8 on disk (read back with
 * U+FFFD in its place, and then not found under that name: `missing`).
 */
export function unsyncableReason(key: string, missing = false): string | null {
  if (missing && key.includes('\uFFFD')) return 'its name is not valid UTF-8';
  // Every path the scan walks comes here: the common one is told fine by one look (nothing the
  // wire refuses could be in it, and at 3 bytes a character it is within the byte limits).
  if (!SUSPECT.test(key) && !DRIVE_PREFIX.test(key) && (key.length <= SAFE_NAME_CHARS || (key.length <= SAFE_PATH_CHARS && key.split('/').every((n) => n.length <= SAFE_NAME_CHARS)))) return null;
  const check = checkSyncPath(key);
  return check.ok ? null : check.reason.replace(/^path /, 'its name ').replace(/^its name is longer/, 'its path is longer');
}

/** The longest absolute path (in bytes, with its end) the system's calls take: beyond it, ENAMETOOLONG. */
const DISK_PATH_MAX = process.platform === 'darwin' ? 1024 : process.platform === 'win32' ? 32767 : 4096;

/**
 * Why an absolute path cannot even be looked at here (longer than the system allows), or null.
 * A path within the wire's limits may still be too long under a deep root: it is a name that
 * cannot be synced on this device (a new-user try: the scan's lstat of one threw, and the agent died).
 */
export function tooLongForDisk(abs: string): string | null {
  if (abs.length * 3 < DISK_PATH_MAX || Buffer.byteLength(abs) < DISK_PATH_MAX) return null;
  return `its full path here is longer than this system allows (${(DISK_PATH_MAX - 1).toLocaleString('en')} bytes)`;
}

/** A relative on-disk path ('/'-separated) from an absolute one under root; null if outside. */
export function relativeTo(root: string, abs: string): string | null {
  const rel = path.relative(root, abs);
  if (rel === '') return '';
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return path.sep === '/' ? rel : rel.split(path.sep).join('/');
}

export function joinDisk(root: string, diskRel: string): string {
  return diskRel === '' ? root : path.join(root, ...diskRel.split('/'));
}

/**
 * The path, by its bytes, of a name that is not valid UTF-8 (docs/conflict-rules.md, "Names that
 * cannot be synced"), or null when its folder lists none: Node reads such a name with U+FFFD for
 * each bad byte, and a path built from that names other bytes, so its lstat fails whether the
 * name is there or not. Its folder's listing, read as bytes, tells. (A deleted one stayed listed
 * as "cannot be synced": found by a new-user try.)
 */
export function lossyNamePath(root: string, diskRel: string): Buffer | null {
  if (!diskRel.includes('\uFFFD')) return null;
  // Step by step: a folder above may be such a name too.
  let at = Buffer.from(root);
  for (const step of diskRel.split('/')) {
    let name: Buffer | undefined = Buffer.from(step);
    if (step.includes('\uFFFD')) {
      try {
        name = readdirSync(at, { encoding: 'buffer' }).find((bytes) => bytes.toString('utf8') === step);
      } catch {
        return null;
      }
      if (name === undefined) return null;
    }
    at = Buffer.concat([at, Buffer.from(path.sep), name]);
  }
  return at;
}

export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

/** The folders above a path, nearest first ('a/b/c' → 'a/b', 'a'). */
export function ancestorsOf(rel: string): string[] {
  const out: string[] = [];
  for (let d = parentOf(rel); d !== ''; d = parentOf(d)) out.push(d);
  return out;
}

/**
 * Only three code points outside ASCII normalise (NFC) to ASCII: U+037E to ';', U+1FEF to '`'
 * and the Kelvin sign U+212A to 'K'. An ASCII name without those characters has no other
 * spelling, so a missing one needs no directory scan (a pull creates thousands of such files).
 */
function hasOtherSpellings(name: string): boolean {
  return !isAscii(name) || /[;`K]/.test(name);
}

/** ASCII only: NFC and NFD are the text itself, so no second spelling of it can sit beside it. */
// eslint-disable-next-line no-control-regex -- the whole ASCII range, control characters included
export const isAscii = (text: string): boolean => /^[\x00-\x7f]*$/.test(text);

/**
 * The entry of `dir` that a key component means: the component itself, or the one name on
 * disk whose NFC form it is (an NFD name written by macOS or any Linux program). Keys are
 * NFC; on Linux `open(NFC)` does not find an NFD file, so I/O must use the disk's spelling.
 */
export function onDiskName(dir: string, name: string): string {
  if (!hasOtherSpellings(name) || existsOnDisk(path.join(dir, name))) return name;
  try {
    for (const entry of readdirSync(dir)) if (entry !== name && entry.normalize('NFC') === name) return entry;
  } catch {
    // A missing or unreadable parent: the plain name, whose I/O then reports the problem.
  }
  return name;
}

/**
 * The absolute on-disk path of an index key: no lstat for a key with no other spelling (see
 * hasOtherSpellings), one when the names are already the disk's.
 */
export function resolveDiskPath(root: string, key: string): string {
  const plain = joinDisk(root, key);
  if (key === '' || !hasOtherSpellings(key) || existsOnDisk(plain)) return plain;
  let abs = root;
  for (const name of key.split('/')) abs = path.join(abs, onDiskName(abs, name));
  return abs;
}

/**
 * A folder on the way to `diskRel` is a symlink or a file: the path leads out of the synced
 * folder and is never followed (docs/conflict-rules.md, "Path safety"). A missing one is no
 * answer here: the caller's own lstat finds the path gone.
 */
export function leadsOutside(root: string, diskRel: string): boolean {
  let abs = root;
  const names = diskRel.split('/');
  for (let i = 0; i < names.length - 1; i++) {
    abs = path.join(abs, names[i]!);
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (st === undefined) return false;
    if (!st.isDirectory()) return true;
  }
  return false;
}

/**
 * A symbolic link or a special file stands at `key` or at a folder above it: the pull never
 * writes through or replaces it (docs/conflict-rules.md, S25). A regular file above is not one:
 * a folder turned into a file goes by other rules. Stops at the first missing name; a name that
 * cannot be looked at (no permission) is no answer either.
 */
export function linkInTheWay(root: string, key: string): boolean {
  let abs = root;
  try {
    // As the names are spelled on disk (NFC or NFD), as the pull would meet them.
    for (const name of path.relative(root, resolveDiskPath(root, key)).split(path.sep)) {
      abs = path.join(abs, name);
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (st === undefined || st.isFile()) return false;
      if (!st.isDirectory()) return true;
    }
  } catch {
    return false;
  }
  return false;
}

/** The index's entry is on disk as it was recorded: a file as a file, a folder as a folder, inside the folder. */
export function presentAs(root: string, key: string, kind: 'file' | 'dir'): boolean {
  try {
    const st = lstatSync(joinDisk(root, key), { throwIfNoEntry: false });
    if (st === undefined || (kind === 'file' ? !st.isFile() : !st.isDirectory())) return false;
    return !leadsOutside(root, key);
  } catch {
    return false;
  }
}

/** Something is at the path (lstat: a dangling symlink counts). */
// Not found is the common answer while a pull fills an empty folder: asked without an
// exception (an Error with its stack for every missing path costs more than the lstat).
export function existsOnDisk(abs: string): boolean {
  return lstatQuietly(abs) !== undefined;
}

/** Nothing at `abs`, unlike existsOnDisk: one that cannot be looked at (EACCES) is no absence. */
export function goneFromDisk(abs: string): boolean {
  try {
    return lstatSync(abs, { throwIfNoEntry: false }) === undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

/** lstat, or undefined when nothing is there or it cannot be looked at (ENOTDIR, EACCES). */
export function lstatQuietly(abs: string | Buffer): Stats | undefined {
  try {
    return lstatSync(abs, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}
