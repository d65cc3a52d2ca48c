import { currentRevision } from './restore-words';

/**
 * A file's versions as `ferry history` and the web UI's History show them: a short content
 * fingerprint each, and which ones hold the same bytes. Two versions of one size read alike, and
 * a version restored (or saved back) was not recognisable as one seen before (a new-user try).
 */

/** How many hex characters of a version's content hash are shown. */
export const FINGERPRINT_CHARS = 8;

export interface ContentMark {
  /** The first FINGERPRINT_CHARS of the content hash. */
  fingerprint: string;
  /** An older version with the content of the current one. */
  current?: true;
  /** Else the nearest older version with the same content, by revision. */
  sameAs?: string;
}

type Version = { revision: string; deleted: boolean; kind?: 'file' | 'dir'; contentHash?: string | undefined };

/**
 * Each version's mark, by revision, of a history newest first. Deletions, folders and versions
 * with no content hash (a server before it listed one) have none.
 */
export function contentMarks(items: readonly Version[]): Map<string, ContentMark> {
  const marks = new Map<string, ContentMark>();
  const current = currentRevision(items);
  const currentHash = items.find((v) => v.revision === current)?.contentHash;
  items.forEach((v, i) => {
    const hash = v.deleted || v.kind === 'dir' ? undefined : v.contentHash;
    if (hash === undefined) return;
    const mark: ContentMark = { fingerprint: hash.slice(0, FINGERPRINT_CHARS) };
    if (v.revision !== current && hash === currentHash) mark.current = true;
    else {
      const earlier = items.slice(i + 1).find((o) => !o.deleted && o.kind !== 'dir' && o.contentHash === hash);
      if (earlier) mark.sameAs = earlier.revision;
    }
    marks.set(v.revision, mark);
  });
  return marks;
}

/** 'current content', 'same as #3' (each surface names a revision its way), or '' when unlike the others. */
export function contentNote(mark: ContentMark | undefined, revision: (r: string) => string): string {
  if (mark?.current) return 'current content';
  return mark?.sameAs !== undefined ? `same as ${revision(mark.sameAs)}` : '';
}

/**
 * The question before a restore from a file's History, in words: what comes back, from when and
 * whom, and that nothing is lost. `revision`, `when`, `size`: as the surface formats them (#3); `goesTo`: the name
 * the file has now when it was moved away since; `sameAsCurrent`: the version holds the current bytes.
 */
export function restoreQuestion(v: { name: string; revision: string; when: string; size: string; by: string; goesTo?: string | undefined; sameAsCurrent?: boolean | undefined }): string {
  const where = v.goesTo !== undefined ? ` It comes back as ${v.goesTo}, the file's name now.` : '';
  const same = v.sameAsCurrent ? ' It has the same content as the current version.' : '';
  return `Restore ${v.name} to version ${v.revision}, saved ${v.when} by ${v.by} (${v.size})?${where}${same} The current version stays in history.`;
}

/**
 * What a version's preview says beside (or instead of) its text, in the web UI's History and
 * `ferry history --show`: `size` as the surface formats bytes. A preview cut short names how much
 * of the version it shows; binary content is not shown. '' when the text is the whole version.
 */
export function previewNote(p: { size: number; shownBytes: number; truncated: boolean; text: string | null }, formatSize: (bytes: number) => string): string {
  if (p.text === null) return `A binary file of ${formatSize(p.size)}: restore it, or open it after restoring.`;
  if (p.size === 0) return 'An empty file.';
  return p.truncated ? `The first ${Math.round(p.shownBytes / 1024)} KiB of ${formatSize(p.size)}: restore it to see the rest.` : '';
}
