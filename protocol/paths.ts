import { FerryError } from './errors';

/** Limits every side applies to a sync path (POSIX PATH_MAX and NAME_MAX, in UTF-8 bytes). */
export const MAX_PATH_BYTES = 4096;
export const MAX_NAME_BYTES = 255;
/** The engine keeps temp files under `<folder>/.ferry/`; no remote path may reach into it. */
export const RESERVED_TOP_LEVEL_NAME = '.ferry';

export type SyncPathCheck = { ok: true; path: string } | { ok: false; reason: string };

const encoder = new TextEncoder();
const byteLength = (s: string): number => encoder.encode(s).length;
/** No UTF-16 unit takes more than 3 UTF-8 bytes: a short text is within the limit without encoding it (every feed item's path is checked). */
const withinBytes = (s: string, max: number): boolean => s.length * 3 <= max || byteLength(s) <= max;
// C0 controls, DEL and the C1 controls (U+0080-U+009F, e.g. U+0085 NEL, U+009B CSI): NUL is
// fatal everywhere, the rest break terminals, logs and Windows.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
// Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they make
// a name display as another ('txt.exe' shown as 'exe.txt'); no file name needs them.
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/;
const DRIVE_PREFIX = /^[A-Za-z]:/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when the text holds a lone surrogate (JSON and UTF-8 would turn it into U+FFFD). */
export const hasLoneSurrogate = (text: string): boolean => LONE_SURROGATE.test(text);
/** True when the text holds a C0 or C1 control character or DEL. */
export const hasControlCharacter = (text: string): boolean => CONTROL_CHARS.test(text);

/**
 * True when a top-level name is, or on some disk becomes, the reserved directory: in any case,
 * and with what Windows ignores or reads as a stream (`.ferry.`, `.ferry `, `.ferry:x`).
 */
function namesReservedDir(name: string): boolean {
  const beforeStream = name.split(':')[0] ?? '';
  return beforeStream.replace(/[. ]+$/, '').toLowerCase() === RESERVED_TOP_LEVEL_NAME;
}

/**
 * Checks a folder-relative sync path as it travels on the wire: '/'-separated, relative,
 * no '.' or '..' segments, no NUL, control or bidirectional control characters, no
 * backslashes or drive prefixes, nothing under a top-level `.ferry` (however spelled),
 * at most 4096 bytes with names of at most 255 bytes. The path is normalised to NFC first
 * so that every device agrees on one spelling.
 */
export function checkSyncPath(value: unknown): SyncPathCheck {
  if (typeof value !== 'string') return { ok: false, reason: 'path must be a string' };
  if (value.length === 0) return { ok: false, reason: 'path is empty' };
  if (LONE_SURROGATE.test(value)) return { ok: false, reason: 'path is not valid Unicode (lone surrogate)' };
  if (value.includes('\u0000')) return { ok: false, reason: 'path contains a NUL character' };
  if (CONTROL_CHARS.test(value)) return { ok: false, reason: 'path contains a control character' };
  if (BIDI_CONTROLS.test(value)) return { ok: false, reason: 'path contains a bidirectional control character' };
  if (value.includes('\\')) return { ok: false, reason: 'path contains a backslash' };
  if (value.startsWith('/')) return { ok: false, reason: 'path is absolute' };
  if (DRIVE_PREFIX.test(value)) return { ok: false, reason: 'path starts with a drive prefix' };
  const path = value.normalize('NFC');
  if (!withinBytes(path, MAX_PATH_BYTES)) return { ok: false, reason: `path is longer than ${MAX_PATH_BYTES} bytes` };
  const names = path.split('/');
  for (const name of names) {
    if (name === '') return { ok: false, reason: 'path has an empty segment (leading, trailing or double slash)' };
    if (name === '.' || name === '..') return { ok: false, reason: `path has a '${name}' segment` };
    if (!withinBytes(name, MAX_NAME_BYTES)) return { ok: false, reason: `path has a name longer than ${MAX_NAME_BYTES} bytes` };
  }
  if (namesReservedDir(names[0] ?? '')) {
    return { ok: false, reason: `path is inside the reserved '${RESERVED_TOP_LEVEL_NAME}' directory` };
  }
  return { ok: true, path };
}

/** Returns the NFC form of a valid sync path, or throws FerryError 'invalid_path' saying what is wrong. */
export function validateSyncPath(p: string): string {
  const result = checkSyncPath(p);
  if (!result.ok) throw new FerryError('invalid_path', `Invalid path: ${result.reason}`, { status: 400 });
  return result.path;
}
