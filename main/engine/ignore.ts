import ignoreFactory from 'ignore';
import { readFileSync } from 'node:fs';
import path from 'node:path';
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
}

const log = createLogger('engine:ignore');

export function createIgnoreMatcher(rules: string | readonly string[] = [], extraRules: readonly string[] = []): IgnoreMatcher {
  const matcher = ignoreFactory({ ignorecase: process.platform !== 'linux' }).add([...DEFAULT_IGNORES]);
  matcher.add(typeof rules === 'string' ? rules : [...rules]);
  matcher.add([...extraRules]);
  return {
    ignores(key, isDir) {
      if (key === '') return false;
      // Ferry's own directory, whatever the stat said.
      if (key === MARKER_DIR || key.startsWith(`${MARKER_DIR}/`)) return true;
      return matcher.ignores(isDir ? `${key}/` : key);
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
  return createIgnoreMatcher(rules, extraRules);
}
