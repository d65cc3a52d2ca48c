import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Data directories hold tokens, databases with every synced path, and logs: only their owner
 * may read them. Directories are 0700 and files 0600, also when the directory already existed
 * with looser modes (README, "Using Ferry"). Windows has no such modes: there this does nothing.
 */
const applies = process.platform !== 'win32';

/** Creates `dir` if needed and makes it 0700, whatever mode it had. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (applies) chmodSync(dir, 0o700);
}

/** Makes every regular file directly in `dir` 0600 (databases, their WAL files, tokens, logs). */
export function restrictFilesIn(dir: string): void {
  if (!applies) return;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    try {
      chmodSync(path.join(dir, entry.name), 0o600);
    } catch (error) {
      // A file that went away meanwhile (a WAL checkpointed, a temp file renamed) needs nothing.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** A data directory and the log directory inside it, both private with their current files. */
export function makeDataDirPrivate(dataDir: string, logDir = path.join(dataDir, 'logs')): void {
  ensurePrivateDir(dataDir);
  restrictFilesIn(dataDir);
  ensurePrivateDir(logDir);
  restrictFilesIn(logDir);
}
