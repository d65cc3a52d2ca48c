import { lstatSync } from 'node:fs';
import path from 'node:path';
import type { FSWatcher } from 'chokidar';
import { FerryError } from '../../protocol/errors';
import { createLogger } from '../logging';
import type { IgnoreMatcher } from './ignore';
import { watchFolderNative, type NativeWatchOptions } from './native-watcher';
import { relativeTo, toKey } from './paths';

export interface WatchHandlers {
  /** Something may have changed at this relative disk path ('' is the root itself). */
  onHint(diskRel: string): void;
  /** Watching failed somewhere; the caller decides (typically: rescan). Never thrown. */
  onError(error: FerryError): void;
  /** Events were lost (kernel queue overflow): a full rescan is the only safe answer. */
  onRescanNeeded?(): void;
  /** A directory is not watched (the OS watch limit): look through it and everything below. */
  onRescanUnder?(diskRel: string): void;
}

export interface FolderWatch {
  /** Resolves once the initial crawl is done and events are flowing. */
  ready: Promise<void>;
  close(): Promise<void>;
}

const log = createLogger('engine:watcher');

export type WatcherBackend = 'native' | 'chokidar';

/**
 * chokidar on one folder (the 'chokidar' backend; see native-watcher.ts for why it is not
 * the default). Its events are only hints for the scanner: no write-finish
 * polling (the scanner's re-stat catches growing files), symlinks not followed.
 */
export function watchFolderChokidar(root: string, ignore: () => IgnoreMatcher, handlers: WatchHandlers): FolderWatch {
  // Loaded only when asked for: an agent on the native watcher never pays for it (a few MiB).
  const started: Promise<FSWatcher> = import('chokidar').then(({ watch }) => {
    const watcher = watch(root, {
      ignoreInitial: true,
      followSymlinks: false,
      awaitWriteFinish: false,
      persistent: true,
      ignorePermissionErrors: true,
      ignored: (abs, stats) => {
        const rel = relativeTo(root, abs);
        if (rel === null || rel === '') return false;
        return ignore().ignores(toKey(rel), stats?.isDirectory());
      },
    });
    const hint = (abs: string) => {
      const rel = relativeTo(root, abs);
      if (rel !== null) handlers.onHint(rel);
    };
    const dirs = new DirectoryInodes(root);
    watcher.on('all', (event, abs) => {
      if (event === 'addDir') dirs.remember(abs);
      else if (event === 'unlinkDir') dirs.forget(abs);
      hint(abs);
    });
    // A directory's own fs.watch follows its inode: one renamed away, or removed, and made again
    // under its name (`mv logs logs.1 && mkdir logs`) left the new one unwatched, since chokidar
    // finds the name in its parent both before and after. Its parent's raw event names it.
    watcher.on('raw', (_event, name, details) => {
      const watchedPath = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
      if (typeof watchedPath !== 'string' || !name) return;
      const abs = path.join(watchedPath, name);
      if (!dirs.replaced(abs)) return;
      log.debug('directory replaced under its name: watched again', { dir: relativeTo(root, abs) });
      watcher.unwatch(abs);
      watcher.add(abs);
      // What was written into it before the new watch is found by the scanner's look.
      hint(abs);
    });
    watcher.once('ready', () => {
      for (const dir of Object.keys(watcher.getWatched())) dirs.remember(dir);
    });
    watcher.on('error', (error) => {
      log.warn('watch error', { root, error });
      handlers.onError(new FerryError('watch_failed', `Watching ${root} failed: ${String((error as Error)?.message ?? error)}`, { retryable: true, cause: error }));
    });
    return watcher;
  });
  const ready = started.then((watcher) => new Promise<void>((resolve) => watcher.once('ready', () => resolve())));
  return { ready, close: async () => (await started).close() };
}

/** The inode of each directory below the root that chokidar watches, to see one replaced. */
class DirectoryInodes {
  private readonly inodes = new Map<string, number>();
  constructor(private readonly root: string) {}

  remember(abs: string): void {
    const rel = relativeTo(this.root, abs);
    if (rel === null || rel === '') return;
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (st?.isDirectory()) this.inodes.set(abs, st.ino);
  }

  /** chokidar reports each directory below a removed one as removed too. */
  forget(abs: string): void {
    this.inodes.delete(abs);
  }

  /** True once: a known directory that is now another directory (its watch went with the old one). */
  replaced(abs: string): boolean {
    const known = this.inodes.get(abs);
    if (known === undefined) return false;
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (!st?.isDirectory() || st.ino === known) return false;
    this.inodes.set(abs, st.ino);
    return true;
  }
}

/** The folder watcher LocalSide uses; 'native' unless asked otherwise. */
export function watchFolder(
  root: string,
  ignore: () => IgnoreMatcher,
  handlers: WatchHandlers,
  backend: WatcherBackend = 'native',
  native: NativeWatchOptions = {},
): FolderWatch {
  return backend === 'chokidar' ? watchFolderChokidar(root, ignore, handlers) : watchFolderNative(root, ignore, handlers, process.platform, native);
}
