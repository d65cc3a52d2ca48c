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
    watcher.on('all', (_event, abs) => hint(abs));
    watcher.on('error', (error) => {
      log.warn('watch error', { root, error });
      handlers.onError(new FerryError('watch_failed', `Watching ${root} failed: ${String((error as Error)?.message ?? error)}`, { retryable: true, cause: error }));
    });
    return watcher;
  });
  const ready = started.then((watcher) => new Promise<void>((resolve) => watcher.once('ready', () => resolve())));
  return { ready, close: async () => (await started).close() };
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
