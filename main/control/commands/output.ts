import { escapeControl, visibleName } from '../../../shared/visible-name';

/** Plain-text formatting for the client commands' human output. */

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

// eslint-disable-next-line no-control-regex -- the same, newline and tab kept
const CONTROLS_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text for a terminal: a control character a file name may hold (an escape that recolours the
 * terminal or moves its cursor, a carriage return) shown as `\x1b`, not acted on. `inLine`: a
 * newline or tab too, for one table cell or one line (a name holding a newline split a row in two;
 * found by a new-user try).
 */
export function printable(text: string, inLine = false): string {
  return inLine ? visibleName(text) : text.replace(CONTROLS_BUT_LINES, escapeControl);
}

/** Left-aligned columns, two spaces apart; the last column is never padded. Cells are printable(). */
export function table(header: string[], rawRows: string[][]): string {
  const rows = rawRows.map((row) => row.map((cell) => printable(cell, true)));
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  return all
    .map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

/**
 * A path as a shell takes it in a command the user may paste: quoted when it holds anything but
 * plain characters (a conflict copy's name has spaces and parentheses; found by a new-user try).
 */
export function shellArg(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${printable(text, true).replace(/'/g, `'\\''`)}'`;
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
