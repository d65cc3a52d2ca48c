import path from 'node:path';

/**
 * The index key of an on-disk path: relative to the root, '/'-separated, NFC.
 * The disk path itself is kept for I/O: on Linux an NFD name only opens by its NFD bytes.
 */
export function toKey(diskRel: string): string {
  const slashed = path.sep === '/' ? diskRel : diskRel.split(path.sep).join('/');
  return slashed.normalize('NFC');
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

export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}
