import { z } from 'zod';

/**
 * The agent's settings, declared once: the settings window, `ferry agent --config` and the
 * flags write them, the engine runs on them, and the UI contract (./ui-contract) carries them.
 * A module of its own so the engine reads its settings without importing the UI contract.
 * Pure module: zod only.
 */

/** A remote folder id: what the Sync API puts in `/v1/folders/{folderId}`. */
export const RemoteFolderId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'use 1-128 letters, digits, dot, dash or underscore, starting with a letter or digit');

export const FolderSettings = z.strictObject({
  /** Absolute local path of the folder root. */
  localPath: z.string().min(1, 'choose a local folder'),
  remoteId: RemoteFolderId,
});
export type FolderSettings = z.infer<typeof FolderSettings>;

/** A whole number in a range, with messages a person reads (not "Too small: expected number to be >=1"). */
function wholeNumber(min: number, max?: number) {
  const range = max === undefined ? `${min} or more` : `${min} to ${max}`;
  const int = z.int({ error: 'enter a whole number' }).min(min, `use ${range}`);
  return max === undefined ? int : int.max(max, `use ${range}`);
}

/**
 * Why an ignore rule (gitignore syntax) can match nothing, or null: a `[` without its `]`, a lone
 * `\\` at the end. Git drops such a rule without a word; whoever wrote it meant something
 * (docs/conflict-rules.md, "Rules that match nothing").
 */
export function ignoreRuleProblem(rule: string): string | null {
  // Trailing spaces are not part of a rule unless escaped (gitignore).
  const text = rule.replace(/(?<!\\) +$/, '');
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') {
      if (i === text.length - 1) return 'ends in a lone \\, so it matches nothing: write \\\\ for a backslash';
      i++;
    } else if (text[i] === '[') {
      // A class: `!` or `^` may negate it; a `]` first is one of its characters.
      let j = i + 1;
      if (text[j] === '!' || text[j] === '^') j++;
      if (text[j] === ']') j++;
      while (j < text.length && text[j] !== ']') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) return 'has a [ without its ], so it matches nothing: write \\[ for a [ in a name';
      i = j;
    }
  }
  return null;
}

/**
 * A rule of the settings: one a line, so a `#` there starts no comment, but gitignore reads it as
 * one (it matches nothing). The settings refuse it, and one saved by an earlier version is named.
 */
export function settingsRuleProblem(rule: string): string | null {
  return rule.startsWith('#') ? 'starts with #, so it is read as a comment and matches nothing: write \\# for a name that starts with #' : ignoreRuleProblem(rule);
}

const SettingsIgnoreRule = z
  .string()
  .min(1)
  .max(1024)
  .superRefine((rule, ctx) => {
    const problem = settingsRuleProblem(rule);
    if (problem) ctx.addIssue({ code: 'custom', message: `"${rule}" ${problem}` });
  });

export const Settings = z.strictObject({
  serverUrl: z.url({ protocol: /^https?$/, error: 'enter an http:// or https:// URL' }),
  /** Bearer token for the Sync API. Never logged; in Electron kept with safeStorage. */
  token: z.string({ error: 'enter the server token' }).min(1, 'enter the server token'),
  /** A private CA (PEM file) the server's https certificate chains to, trusted besides the system's. */
  caFile: z.string().min(1, 'choose the CA file, or leave it out').optional(),
  /** Plain http:// to a server that is not this computer sends the token unencrypted: refused unless set. */
  allowInsecureHttp: z.boolean().optional(),
  folders: z.array(FolderSettings).default([]),
  concurrency: wholeNumber(1, 32).default(4),
  retryLimit: wholeNumber(0, 10).default(3),
  /** Upload limit in bytes per second; 0 means none. */
  bandwidthLimit: wholeNumber(0).default(0),
  /** Extra ignore patterns (gitignore syntax) applied to every folder. */
  ignoreRules: z.array(z.string().min(1).max(1024)).max(1000).default([]),
  startAtLogin: z.boolean().default(false),
  notifications: z.boolean().default(true),
  /** A pull or scan deleting more than this share of a folder's files (or count) pauses it. */
  massDeletePercent: wholeNumber(1, 100).default(50),
  massDeleteCount: wholeNumber(1).default(1000),
  /** Batches with at least this many operations go in async mode. */
  asyncThreshold: wholeNumber(1, 10_000).default(1000),
});
export type Settings = z.infer<typeof Settings>;
export type SettingsInput = z.input<typeof Settings>;

/** What the UI reads: the token itself never leaves the agent. */
export const SettingsView = Settings.omit({ token: true }).extend({
  hasToken: z.boolean(),
  /** How the stored token is protected: the OS keychain, or plain text (Linux `basic_text`, headless). */
  tokenProtection: z.enum(['os', 'plaintext']),
  /** Saved, but worth knowing (a folder that does not exist yet): shown after a save. */
  warnings: z.array(z.string()).optional(),
});
export type SettingsView = z.infer<typeof SettingsView>;

/**
 * The settings as a person writes them (the settings window, the web UI, the API): an ignore rule
 * that can match nothing is refused. Settings read back are not held to it: a rule saved by an
 * earlier version still loads, and is named in Activity (docs/conflict-rules.md, "Rules that match nothing").
 */
export const WrittenSettings = Settings.extend({ ignoreRules: z.array(SettingsIgnoreRule).max(1000).default([]) });

/** What the UI writes: an empty or absent token keeps the stored one. */
export const SettingsUpdate = WrittenSettings.extend({ token: z.string().optional() });
export type SettingsUpdate = z.infer<typeof SettingsUpdate>;

/** Turns a zod error into the field → message map the settings window shows inline. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = issue.path.map(String).join('.') || '_';
    fields[key] ??= issue.message;
  }
  return fields;
}

