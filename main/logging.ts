import log from 'electron-log/node';

/**
 * Named-scope logging for every process that is not the Electron shell (the shell configures
 * electron-log/main the same way). Tokens never reach a transport: every message is scrubbed.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/(bearer\s+)[^\s"',;]+/gi, '$1[redacted]'],
  [/((?:token|secret|password|authorization)["']?\s*[:=]\s*["']?)[^\s"'&,;}]+/gi, '$1[redacted]'],
  [/([?&](?:token|access_token|syncToken)=)[^&\s"']+/gi, '$1[redacted]'],
  // Device tokens (server/accounts.ts) wherever they appear, and pairing codes by name or flag.
  [/\bfdt_[A-Za-z0-9_-]+/g, 'fdt_[redacted]'],
  [/((?:pairing_?code|pairCode)["']?\s*[:=]\s*["']?)[^\s"'&,;}]+/gi, '$1[redacted]'],
  // A code is 16 characters (dashes aside): a placeholder a message names ("--pair CODE") stays readable.
  [/(--pair[\s=]+)(?!(?:CODE|NEWCODE)(?=$|[\s"',;.)]))[^\s"',;]+/gi, '$1[redacted]'],
];

export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

// A value shown bare: nothing a reader (or a log parser) could take for a separator.
const BARE_VALUE = /^[\x21-\x7e]+$/;
const UNSAFE_IN_QUOTES = /[\u007f-\u009f\u2028\u2029]/g;

/**
 * One field value as it appears after `key=`: bare when it is plain printable ASCII without
 * quotes or `=`, else a JSON string (newlines, quotes and control characters escaped). So a
 * value a client sent (a header, a path) can never make a line show a field it did not have.
 */
export function formatFieldValue(value: unknown): string {
  const text = value instanceof Error ? value.message : typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  if (BARE_VALUE.test(text) && !/["=\\]/.test(text)) return text;
  return JSON.stringify(text).replace(UNSAFE_IN_QUOTES, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function formatFields(fields: Record<string, unknown> | undefined): string {
  if (!fields) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${key}=${formatFieldValue(value)}`);
  }
  return parts.length ? ' ' + parts.join(' ') : '';
}

let configured = false;
function ensureDefaults(): void {
  if (configured) return;
  configured = true;
  const level = (process.env.FERRY_LOG_LEVEL as LogLevel | undefined) ?? 'warn';
  log.transports.console.level = LOG_LEVELS.includes(level) ? level : 'warn';
  // No file unless a host asks for one (configureLogging); tests stay off the disk.
  log.transports.file.level = false;
  // electron-log/node names its default paths after the nearest package.json, found from the
  // working directory: outside the checkout it finds none and fails every file write.
  log.transports.file.setAppName('ferry');
  log.scope.labelPadding = false;
  log.transports.console.format = '{h}:{i}:{s}.{ms} {level} {scope} {text}';
  log.transports.file.format = '[{y}-{m}-{d} {h}:{i}:{s}.{ms}] [{level}] {scope} {text}';
  // Log files are the owner's alone, including each new one after a rotation.
  log.transports.file.writeOptions = { flag: 'a', mode: 0o600, encoding: 'utf8' };
  log.hooks.push(redactHook);
  log.hooks.push((message, transport) => {
    if (heldConsole === null || transport !== log.transports.console) return message;
    heldConsole.push(message);
    if (heldConsole.length >= HOLD_CONSOLE_MAX_LINES) releaseConsole();
    return false;
  });
}

/** Console lines held back by holdConsole, in order. */
let heldConsole: HeldMessage[] | null = null;
type HeldMessage = Parameters<typeof log.transports.console>[0];
let heldTimer: NodeJS.Timeout | undefined;
/** Held no longer than this, nor more lines than that: a start that hangs still says its warnings. */
const HOLD_CONSOLE_MAX_MS = 5000;
const HOLD_CONSOLE_MAX_LINES = 500;

/**
 * Holds the console's lines until releaseConsole, which writes them: an agent's start says what
 * runs first, and the warnings of its start come after (a new-user try read two warnings above
 * "Ferry agent running"). The log file gets every line at once. Released by itself after a few
 * seconds, past a few hundred lines, and at exit, so none is lost (review).
 */
export function holdConsole(): void {
  ensureDefaults();
  if (heldConsole !== null) return;
  heldConsole = [];
  heldTimer = setTimeout(releaseConsole, HOLD_CONSOLE_MAX_MS);
  heldTimer.unref();
  process.once('exit', releaseConsole);
}

/** Writes the lines held since holdConsole, and the console's lines as they come from now on. */
export function releaseConsole(): void {
  const lines = heldConsole ?? [];
  heldConsole = null;
  clearTimeout(heldTimer);
  process.off('exit', releaseConsole);
  for (const message of lines) log.transports.console(message);
}

export interface LoggingOptions {
  level?: LogLevel;
  /** A rotating log file (electron-log rotates at maxSize into `<name>.old.log`). */
  file?: string;
  maxFileBytes?: number;
  console?: boolean;
  /** The console's own threshold (default: `level`): a person reads it, the file keeps the rest. */
  consoleLevel?: LogLevel;
  /** `json`: one JSON object a line (time, level, scope, msg, then the fields), for log collectors. */
  format?: 'text' | 'json';
}

/** Set by configureLogging: loggers made by createLogger write JSON lines. */
let jsonLines = false;

export function configureLogging(options: LoggingOptions): void {
  ensureDefaults();
  const level = options.level ?? 'info';
  log.transports.console.level = options.console === false ? false : (options.consoleLevel ?? level);
  jsonLines = options.format === 'json';
  // A JSON line carries its own time, level and scope.
  log.transports.console.format = jsonLines ? '{text}' : '{h}:{i}:{s}.{ms} {level} {scope} {text}';
  log.transports.file.format = jsonLines ? '{text}' : '[{y}-{m}-{d} {h}:{i}:{s}.{ms}] [{level}] {scope} {text}';
  if (options.file) {
    const file = options.file;
    log.transports.file.level = level;
    log.transports.file.resolvePathFn = () => file;
    log.transports.file.maxSize = options.maxFileBytes ?? 5 * 1024 * 1024;
  } else {
    log.transports.file.level = false;
  }
}

/** What one named scope of electron-log (node or main) offers. */
export type ScopedSink = Record<LogLevel, (text: string) => void>;

/** Writes one line: the logger's fields, then the call's. */
type LineWriter = (level: LogLevel, message: string, fields: Record<string, unknown>) => void;

/** The Logger interface over a line writer; `child` adds fields. */
function fieldLogger(write: LineWriter, baseFields?: Record<string, unknown>): Logger {
  const make = (fields: Record<string, unknown> | undefined): Logger => {
    const at = (level: LogLevel) => (message: string, extra?: Record<string, unknown>) => write(level, message, { ...fields, ...extra });
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => make({ ...fields, ...more }) };
  };
  return make(baseFields);
}

/** The Logger interface over one scope: fields appended as key=value, every line scrubbed. */
export function loggerOver(scoped: ScopedSink, baseFields?: Record<string, unknown>): Logger {
  return fieldLogger((level, message, fields) => scoped[level](redact(message + formatFields(fields))), baseFields);
}

/** A hook for any electron-log instance: whatever a message carries, no token reaches a transport. */
export function redactHook<M extends { data: unknown[] }>(message: M): M {
  message.data = message.data.map((d) => (typeof d === 'string' ? redact(d) : d));
  return message;
}

/**
 * Whether any transport takes lines of `level`. One that none takes is not formatted or
 * scrubbed at all: a pull writes a debug line per file, read only when someone asks for debug.
 */
function wanted(level: LogLevel): boolean {
  const rank = log.levels.indexOf(level);
  for (const transport of Object.values(log.transports)) {
    const at = (transport as { level?: string | false } | undefined)?.level;
    if (typeof at === 'string' && rank <= log.levels.indexOf(at)) return true;
  }
  return false;
}

export function createLogger(scope: string, baseFields?: Record<string, unknown>): Logger {
  ensureDefaults();
  const scoped = log.scope(scope);
  const text = loggerOver(scoped, baseFields);
  const json = jsonLoggerOver(scoped, scope, baseFields);
  // Chosen at each line: configureLogging may run after a module made its logger.
  const pick = (fields: Record<string, unknown> | undefined, t: Logger, j: Logger): Logger => {
    const at = (level: LogLevel) => (m: string, f?: Record<string, unknown>) => {
      if (wanted(level)) (jsonLines ? j : t)[level](m, f);
    };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => pick({ ...fields, ...more }, t.child(more), j.child(more)) };
  };
  return pick(baseFields, text, json);
}

/**
 * JSON lines: `{"time","level","scope","msg",…fields}`. Each value is scrubbed as the text
 * format scrubs `key=value`, so a field named token, secret or pairingCode never shows its value.
 */
export function jsonLoggerOver(scoped: ScopedSink, scope: string, baseFields?: Record<string, unknown>): Logger {
  return fieldLogger((level, message, fields) => {
    const line: Record<string, unknown> = { time: new Date().toISOString(), level, scope, msg: redact(message) };
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined || key in line) continue;
      if (typeof value === 'number' || typeof value === 'boolean' || value === null) line[key] = value;
      else {
        const text = value instanceof Error ? value.message : typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
        line[key] = redact(`${key}=${text}`).slice(key.length + 1);
      }
    }
    // Quotes and backslashes inside values as \u escapes: the transports' scrubbing
    // (redactHook) then cannot cut a line between a backslash and what it escapes.
    scoped[level](JSON.stringify(line).replace(/\\(["\\])/g, (_, c: string) => (c === '"' ? '\\u0022' : '\\u005c')));
  }, baseFields);
}
