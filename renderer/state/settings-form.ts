import { fieldErrors, PairDeviceInput, Settings, SettingsUpdate } from '../../shared/ui-contract';
import type { SettingsView } from '../../shared/ui-contract';

/**
 * The settings window's form model: text as typed, converted to a SettingsUpdate and
 * checked with the contract's own schema, problems keyed by the contract's field paths
 * ("folders.0.remoteId"), exactly like the agent's `invalid_settings` answer.
 */
export interface FolderRow {
  localPath: string;
  remoteId: string;
}

export interface SettingsFormValues {
  serverUrl: string;
  /** Empty keeps the stored token. */
  token: string;
  /** A one-time code from `ferry server pair`: traded for this device's own token ("Connect with a pairing code"). */
  pairingCode: string;
  /** Path of a private CA's PEM file on the agent's machine; empty: the system's CAs only. */
  caFile: string;
  allowInsecureHttp: boolean;
  folders: FolderRow[];
  concurrency: string;
  retryLimit: string;
  /** Shown in KB/s; the contract stores bytes per second. */
  bandwidthLimitKBps: string;
  /** One gitignore pattern per line. */
  ignoreRules: string;
  startAtLogin: boolean;
  notifications: boolean;
  massDeletePercent: string;
  massDeleteCount: string;
  /** Not in the form; kept as loaded. */
  asyncThreshold: number;
}

export type FieldErrors = Record<string, string>;
export type FormCheck = { ok: true; update: SettingsUpdate } | { ok: false; fields: FieldErrors };
export type PairingCheck = { ok: true; input: PairDeviceInput } | { ok: false; fields: FieldErrors };

/** Before the first save (a new desktop install) the form starts from the schema's defaults. */
export function blankSettingsView(): SettingsView {
  return { ...Settings.omit({ serverUrl: true, token: true }).parse({}), serverUrl: '', hasToken: false, tokenProtection: 'plaintext' };
}

export function formFromSettings(view: SettingsView): SettingsFormValues {
  return {
    serverUrl: view.serverUrl,
    token: '',
    pairingCode: '',
    caFile: view.caFile ?? '',
    allowInsecureHttp: view.allowInsecureHttp ?? false,
    folders: view.folders.map(({ localPath, remoteId }) => ({ localPath, remoteId })),
    concurrency: String(view.concurrency),
    retryLimit: String(view.retryLimit),
    bandwidthLimitKBps: String(Math.round(view.bandwidthLimit / 1000)),
    ignoreRules: view.ignoreRules.join('\n'),
    startAtLogin: view.startAtLogin,
    notifications: view.notifications,
    massDeletePercent: String(view.massDeletePercent),
    massDeleteCount: String(view.massDeleteCount),
    asyncThreshold: view.asyncThreshold,
  };
}

/** Non-empty lines with their 1-based line numbers, so errors can name the line. */
export function ignoreRuleLines(text: string): Array<{ rule: string; line: number }> {
  return text
    .split(/\r?\n/)
    .map((rule, index) => ({ rule: rule.trim(), line: index + 1 }))
    .filter(({ rule }) => rule.length > 0);
}

export function validateSettingsForm(form: SettingsFormValues, options: { hasToken: boolean }): FormCheck {
  const { fields, parsed } = checkForm(form);
  if (!options.hasToken && !form.token) fields.token ??= 'enter the server token';
  if (Object.keys(fields).length || !parsed.success) return { ok: false, fields };
  return { ok: true, update: parsed.data };
}

/** "Connect with a pairing code": the same form, with the code in place of a token. */
export function validatePairingForm(form: SettingsFormValues): PairingCheck {
  const { fields, candidate } = checkForm(form);
  const { token: _token, ...settings } = candidate;
  const parsed = PairDeviceInput.safeParse({ ...settings, pairingCode: form.pairingCode });
  if (!parsed.success) for (const [key, message] of Object.entries(fieldErrors(parsed.error))) fields[key] ??= message;
  if (Object.keys(fields).length || !parsed.success) return { ok: false, fields };
  return { ok: true, input: parsed.data };
}

function checkForm(form: SettingsFormValues) {
  const fields: FieldErrors = {};
  const whole = (key: string, text: string, scale = 1): number => {
    // A negative number is whole: the schema says its range ("use 1 to 32"), not "enter a whole number".
    if (!/^\s*-?\d+\s*$/.test(text)) {
      fields[key] = 'enter a whole number';
      return 0;
    }
    return Number(text) * scale;
  };
  const rules = ignoreRuleLines(form.ignoreRules);
  const candidate = {
    serverUrl: form.serverUrl.trim(),
    ...(form.token ? { token: form.token } : {}),
    folders: form.folders.map((folder) => ({ localPath: folder.localPath.trim(), remoteId: folder.remoteId.trim() })),
    concurrency: whole('concurrency', form.concurrency),
    retryLimit: whole('retryLimit', form.retryLimit),
    bandwidthLimit: whole('bandwidthLimit', form.bandwidthLimitKBps, 1000),
    ignoreRules: rules.map(({ rule }) => rule),
    startAtLogin: form.startAtLogin,
    notifications: form.notifications,
    massDeletePercent: whole('massDeletePercent', form.massDeletePercent),
    massDeleteCount: whole('massDeleteCount', form.massDeleteCount),
    asyncThreshold: form.asyncThreshold,
    ...(form.caFile.trim() ? { caFile: form.caFile.trim() } : {}),
    ...(form.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
  };
  const parsed = SettingsUpdate.safeParse(candidate);
  if (!parsed.success) for (const [key, message] of Object.entries(fieldErrors(parsed.error))) fields[key] ??= message;
  markDuplicates(candidate.folders, 'remoteId', 'another folder already syncs to this remote id', fields);
  markDuplicates(candidate.folders, 'localPath', 'this folder is already in the list', fields);
  return { fields, candidate, parsed };
}

function markDuplicates(folders: FolderRow[], key: keyof FolderRow, message: string, fields: FieldErrors): void {
  const seen = new Set<string>();
  folders.forEach((folder, index) => {
    const value = folder[key];
    if (value && seen.has(value)) fields[`folders.${index}.${key}`] ??= message;
    seen.add(value);
  });
}

/**
 * Field errors as the form shows them: an ignore rule's error ("ignoreRules.2") is shown
 * under the rules box with its line number; everything else keeps its path.
 */
export function errorsForDisplay(fields: FieldErrors, ignoreRulesText: string): FieldErrors {
  const lines = ignoreRuleLines(ignoreRulesText);
  const shown: FieldErrors = {};
  for (const [key, message] of Object.entries(fields)) {
    const rule = /^ignoreRules\.(\d+)$/.exec(key);
    if (rule) {
      // Every rule refused at once, one after another (a new-user try met them one Save at a time).
      const line = lines[Number(rule[1])]?.line;
      const said = line ? `line ${line}: ${message}` : message;
      shown.ignoreRules = shown.ignoreRules ? `${shown.ignoreRules}; ${said}` : said;
    } else {
      shown[key] ??= message;
    }
  }
  return shown;
}
