import ignoreFactory from 'ignore';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ignoreRuleProblem, settingsRuleProblem } from '../../shared/settings';
import { createLogger } from '../logging';
import { MARKER_DIR } from './folder-marker';

export const FERRY_IGNORE_FILE = '.ferryignore';

/** OS and editor litter that never syncs, plus Ferry's own .ferry/ (marker, temp files). */
export const DEFAULT_IGNORES: readonly string[] = [
  '.DS_Store',
  'Thumbs.db',
  'desktop.ini',
  '~$*',
  '.~lock.*#',
  '*.swp',
  '*~',
  '*.tmp',
  `/${MARKER_DIR}/`,
];

export interface IgnoreMatcher {
  /** key: a '/'-separated relative path; isDir when known (rules ending in '/' need it). */
  ignores(key: string, isDir?: boolean): boolean;
  /** Why a path is ignored: the rule and where it comes from (null when it is not ignored). */
  explain?(key: string, isDir?: boolean): IgnoreReason | null;
  /** The rules it was made of, as text: another signature is other rules. */
  signature?: string;
  /** Rules that can match nothing (docs/conflict-rules.md, "Rules that match nothing"). */
  deadRules?: DeadRule[];
}

export interface IgnoreReason {
  rule: string;
  /** `Ferry` (its own .ferry/), `default rules`, the folder's `.ferryignore`, or `settings`. */
  source: string;
}

export interface DeadRule {
  /** `.ferryignore line 3`, or `the settings`. */
  where: string;
  rule: string;
  problem: string;
}

/** The rules that can match nothing: a .ferryignore's by line number (comments and blank lines are no rules), the settings'. */
export function deadRules(fileText: string, settingsRules: readonly string[] = []): DeadRule[] {
  const dead: DeadRule[] = [];
  fileText.split('\n').forEach((raw, index) => {
    const rule = raw.replace(/\r$/, '');
    if (rule.trim() === '' || rule.startsWith('#')) return;
    const problem = ignoreRuleProblem(rule);
    if (problem) dead.push({ where: `${FERRY_IGNORE_FILE} line ${index + 1}`, rule, problem });
  });
  for (const rule of settingsRules) {
    const problem = settingsRuleProblem(rule);
    if (problem) dead.push({ where: 'the settings', rule, problem });
  }
  return dead;
}

const log = createLogger('engine:ignore');

export function createIgnoreMatcher(rules: string | readonly string[] = [], extraRules: readonly string[] = []): IgnoreMatcher {
  const make = () => ignoreFactory({ ignorecase: process.platform !== 'linux' });
  const folderRules = typeof rules === 'string' ? rules : [...rules];
  const matcher = make().add([...DEFAULT_IGNORES]).add(folderRules).add([...extraRules]);
  // Each source alone, latest first, to name the one whose rule decided (a later one wins).
  const sources = [
    { source: 'settings', matcher: make().add([...extraRules]) },
    { source: FERRY_IGNORE_FILE, matcher: make().add(folderRules) },
    { source: 'default rules', matcher: make().add([...DEFAULT_IGNORES]) },
  ];
  const own = (key: string) => key === MARKER_DIR || key.startsWith(`${MARKER_DIR}/`);
  return {
    ignores(key, isDir) {
      if (key === '') return false;
      // Ferry's own directory, whatever the stat said.
      if (own(key)) return true;
      return matcher.ignores(isDir ? `${key}/` : key);
    },
    explain(key, isDir) {
      if (key === '') return null;
      if (own(key)) return { rule: `${MARKER_DIR}/`, source: 'Ferry' };
      const probe = isDir ? `${key}/` : key;
      if (!matcher.ignores(probe)) return null;
      for (const { source, matcher: alone } of sources) {
        const hit = alone.checkIgnore(probe);
        if (hit.ignored && hit.rule) return { rule: hit.rule.pattern, source };
      }
      return { rule: matcher.checkIgnore(probe).rule?.pattern ?? '(a rule)', source: 'rules' };
    },
  };
}

/**
 * Defaults, the folder's .ferryignore (gitignore syntax) if there is one, and the rules the
 * settings apply to every folder. An ignored path is no longer synced; it is never deleted.
 */
export function loadFolderIgnore(root: string, extraRules: readonly string[] = []): IgnoreMatcher {
  let rules = '';
  try {
    rules = readFileSync(path.join(root, FERRY_IGNORE_FILE), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') log.warn('cannot read .ferryignore', { root, error });
  }
  return { ...createIgnoreMatcher(rules, extraRules), signature: `${rules}\u0000${extraRules.join('\n')}`, deadRules: deadRules(rules, extraRules) };
}
