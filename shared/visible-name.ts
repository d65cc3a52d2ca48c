// eslint-disable-next-line no-control-regex -- the control characters are what is matched
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
/** One control character as an escape a person can read. */
export const escapeControl = (c: string): string => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/**
 * A file name with its control characters shown as escapes (`\t`, `\n`, `\x07`): a terminal
 * acts on them, and a page shows a tab or newline as a space, so a name that cannot be synced
 * looked like a plain one (found by a new-user try). The CLI and the web UI show names alike.
 */
export function visibleName(text: string): string {
  return text.replace(CONTROLS, escapeControl);
}
