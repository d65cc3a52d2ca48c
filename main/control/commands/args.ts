import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { printable } from './output';

/**
 * The flag handling every client command shares: strict parsing, `--help`, and usage errors
 * that say what was wrong and how to ask for help (exit code 2, as is customary).
 */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  /** The clock a time ago (`--at 2h`) counts back from: Date.now unless a test gives its own. */
  now?: () => number;
}

/** Standard output and error, never acting on a control character a name carries (printable()). */
export const processIo: CommandIo = {
  out: (text) => void process.stdout.write(terminalLine(text)),
  err: (text) => void process.stderr.write(terminalLine(text)),
};

function terminalLine(text: string): string {
  const shown = printable(text);
  return shown.endsWith('\n') ? shown : shown + '\n';
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export interface CommandDefinition<O extends OptionsConfig> {
  name: string;
  summary: string;
  /** Positional part of the synopsis, e.g. "[ID]". */
  synopsis?: string;
  options: O;
  /** One line per flag, in the order shown by --help. */
  flags: Array<[flag: string, explanation: string]>;
  maxPositionals?: number;
  examples?: string[];
}

/** Flags every client command takes. */
export const commonOptions = {
  data: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies OptionsConfig;

/** The common flags and `--folder ID`, for commands that act on one folder or all. */
export const folderOptions = { ...commonOptions, folder: { type: 'string' } } as const satisfies OptionsConfig;

export const commonFlags: Array<[string, string]> = [
  ['--data DIR', "the running agent's data directory, with its agent.json and control-token (default: $FERRY_HOME or ~/.ferry)"],
  ['--json', 'print machine-readable JSON instead of text'],
  ['-h, --help', 'show this help'],
];

export type ParsedValues<O extends OptionsConfig> = ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>['values'];

export type ParseOutcome<O extends OptionsConfig> =
  | { kind: 'run'; values: ParsedValues<O>; positionals: string[] }
  | { kind: 'exit'; code: number };

export function helpText<O extends OptionsConfig>(def: CommandDefinition<O>): string {
  const width = Math.max(...def.flags.map(([flag]) => flag.length));
  const lines = [
    `Usage: ferry ${def.name} [options]${def.synopsis ? ' ' + def.synopsis : ''}`,
    '',
    def.summary,
    '',
    'Options:',
    ...def.flags.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`),
  ];
  if (def.examples?.length) lines.push('', 'Examples:', ...def.examples.map((example) => `  ${example}`));
  return lines.join('\n');
}

export function parseCommand<O extends OptionsConfig>(def: CommandDefinition<O>, argv: string[], io: CommandIo): ParseOutcome<O> {
  let parsed: { values: ParsedValues<O>; positionals: string[] };
  try {
    parsed = parseArgs({ args: negativeValues(def.options, argv), options: def.options, strict: true, allowPositionals: true }) as typeof parsed;
  } catch (error) {
    return usageError(def, io, parseProblem(def, argv, error), wantsJson(def, argv));
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.out(helpText(def));
    return { kind: 'exit', code: EXIT_OK };
  }
  if (parsed.positionals.length > (def.maxPositionals ?? 0)) {
    return usageError(def, io, `unexpected argument '${parsed.positionals[def.maxPositionals ?? 0]}'`, wantsJson(def, argv));
  }
  return { kind: 'run', ...parsed };
}

/**
 * `--concurrency -1`: a negative number after a flag that takes a value is its value, checked
 * as the command checks it (its range named); Node refused it as "ambiguous" and told to write
 * `--concurrency=-XYZ` (found by a new-user try). No flag is a digit, so nothing else is meant.
 */
function negativeValues(options: OptionsConfig, argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return [...out, ...argv.slice(i)];
    const next = argv[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/**
 * Node's words for a flag it refuses, in ours. Its hint for an unknown option has unbalanced
 * quotes (Node 22 and later), names a short option's first letter only (`-n` for `-notes.txt`),
 * and a missing value reads "argument missing".
 */
function parseProblem(def: { name: string; synopsis?: string }, argv: readonly string[], error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  const unknown = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '([^']*)'/.exec(message)?.[1] : undefined;
  if (unknown !== undefined) {
    const given = argv.find((a) => a === unknown || a.startsWith(/^-[^-]$/.test(unknown) ? unknown : `${unknown}=`)) ?? unknown;
    if (!def.synopsis?.includes('PATH')) return `Unknown option '${given}'`;
    return `Unknown option '${given}' (a path that starts with '-' goes after '--': ferry ${def.name} -- ${given})`;
  }
  const missing = code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ? /^Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(message)?.[1] : undefined;
  if (missing !== undefined) return `${missing} needs a value`;
  // `--log-level -x`: the value or a forgotten one, Node cannot tell; said in one line.
  const ambiguous = code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ? /^Option '(?:-\w, )?(--[\w-]+)' argument is ambiguous/.exec(message)?.[1] : undefined;
  if (ambiguous !== undefined) {
    const at = argv.indexOf(ambiguous);
    const value = (at >= 0 ? argv[at + 1] : undefined) ?? '-…';
    return `${ambiguous} needs a value; one that starts with '-' is written ${ambiguous}=${value}`;
  }
  return message;
}

/** --json given to a command that takes it (read off argv: the parse that failed has no values), before any `--`. */
function wantsJson(def: { options: OptionsConfig }, argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return 'json' in def.options && (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** A usage error (exit 2): a line and where help is, or with --json the error object of `printError`. */
export function usageError(def: { name: string }, io: CommandIo, problem: string, asJson = false): { kind: 'exit'; code: number } {
  if (asJson) printError(io, { code: 'usage', message: `${problem}; run 'ferry ${def.name} --help' for the options`, retryable: false }, true);
  else io.err(`ferry ${def.name}: ${problem}\nRun 'ferry ${def.name} --help' for the options.`);
  return { kind: 'exit', code: EXIT_USAGE };
}

/** With --json a failure is one object on stderr, `{ "error": { code, message, retryable, fields? } }`. */
export function printError(io: CommandIo, error: { code: string; message: string; retryable: boolean; fields?: unknown }, asJson: boolean, line?: string): void {
  const { code, message, retryable, fields } = error;
  if (asJson) io.err(JSON.stringify({ error: { code, message, retryable, ...(fields ? { fields } : {}) } }, null, 2));
  else io.err(line ?? message);
}

/** Parses a non-negative integer flag, or explains why it is not one. */
export function integerFlag(name: string, raw: string | undefined, min: number, max: number): { value?: number; problem?: string } {
  if (raw === undefined) return {};
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    return { problem: `--${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}` };
  }
  return { value };
}
