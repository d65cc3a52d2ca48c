import { MAX_NAME_BYTES } from '../../protocol/paths';

const encoder = new TextEncoder();
const bytes = (s: string): number => encoder.encode(s).length;
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_NAME = /[/\\:*?"<>|\u0000-\u001f\u007f]/g;
const MAX_DEVICE_CHARS = 64;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `YYYY-MM-DD HHMMSS` in UTC: stable across retries and the same on every device. */
export function conflictStamp(date: Date): string {
  return (
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`
  );
}

/** A device label safe inside a file name. */
export function sanitizeDevice(device: string): string {
  const cleaned = device.replace(UNSAFE_IN_NAME, '_').trim().slice(0, MAX_DEVICE_CHARS);
  return cleaned === '' ? 'unknown device' : cleaned;
}

/** Splits a name at its last dot; a leading dot (".bashrc") does not start an extension. */
export function splitExtension(name: string): { stem: string; ext: string } {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return { stem: name, ext: '' };
  return { stem: name.slice(0, dot), ext: name.slice(dot) };
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
function cutToBytes(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    if (bytes(out + ch) > max) break;
    out += ch;
  }
  return out;
}

/**
 * `name (conflict from DEVICE YYYY-MM-DD HHMMSS).ext` for a file name (no directory).
 * `attempt` > 1 adds a counter inside the parentheses for when that name is taken.
 */
export function conflictName(name: string, device: string, when: Date, attempt = 1): string {
  const { stem, ext } = splitExtension(name);
  const suffix = ` (conflict from ${sanitizeDevice(device)} ${conflictStamp(when)}${attempt > 1 ? ` ${attempt}` : ''})`;
  const room = MAX_NAME_BYTES - bytes(suffix) - bytes(ext);
  return `${cutToBytes(stem, Math.max(room, 1))}${suffix}${ext}`;
}

/** The conflict copy's folder-relative path next to `relPath`. */
export function conflictPath(relPath: string, device: string, when: Date, attempt = 1): string {
  const slash = relPath.lastIndexOf('/');
  const dir = slash < 0 ? '' : relPath.slice(0, slash + 1);
  return dir + conflictName(relPath.slice(slash + 1), device, when, attempt);
}

const COPY_MARK = / \(conflict from (.+) (\d{4}-\d{2}-\d{2}) (\d{2})(\d{2})(\d{2})(?: \d+)?\)/;

/**
 * What a conflict copy's name says (`conflictName`): the device whose version it keeps, when,
 * and the name it was a copy of. Null for any other name. For `why` on a device that got the
 * copy through the pull (it made no copy itself, so it keeps no record of one).
 */
export function parseConflictName(relPath: string): { device: string; at: string; original: string } | null {
  const slash = relPath.lastIndexOf('/');
  const name = relPath.slice(slash + 1);
  const m = COPY_MARK.exec(name);
  if (!m) return null;
  const original = relPath.slice(0, slash + 1) + name.slice(0, m.index) + name.slice(m.index + m[0].length);
  return { device: m[1]!, at: `${m[2]} ${m[3]}:${m[4]}:${m[5]} UTC`, original };
}
