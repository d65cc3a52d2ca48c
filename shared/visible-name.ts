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

/**
 * visibleName, in quotes when it starts or ends with a space: a name said on its own (a title,
 * the first words of a line) lost its trailing space to the eye (found by a new-user try).
 */
export function visibleNameAlone(text: string): string {
  const shown = visibleName(text);
  return /^\s|\s$/.test(shown) ? `"${shown}"` : shown;
}

/**
 * The name `visibleName` showed, typed back: `\t`, `\n` and `\xNN` (a control character) read as
 * the characters they stand for. Null when the text holds none of them.
 */
export function unescapeControls(text: string): string | null {
  const out = text.replace(/\\(t|n|x[01][0-9a-f]|x7f|x[89][0-9a-f])/gi, (_, e: string) => (e === 't' ? '\t' : e === 'n' ? '\n' : String.fromCharCode(parseInt(e.slice(1), 16))));
  return out === text ? null : out;
}
