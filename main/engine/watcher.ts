// Watching a folder: two backends behind one FolderWatch; their events are only hints for the scanner.
import { lstatSync, readdirSync, watch, type FSWatcher as NodeWatcher } from 'node:fs';
import path from 'node:path';
import type { FSWatcher } from 'chokidar';
import { FerryError } from '../../protocol/errors';
import { createLogger } from '../logging';
import type { IgnoreMatcher } from './ignore';
import { joinDisk, relativeTo, toKey } from './paths';

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

// ---- The native backend (the default) ----

/**
 * A lean watcher: one fs.watch per directory on Linux (inotify names the child that
 * changed), one recursive fs.watch elsewhere (FSEvents, ReadDirectoryChangesW). chokidar 5
 * holds a watcher per file, which at 100,000 files costs over half a gigabyte (and on
 * macOS a descriptor per file); this holds one per directory. Events are hints either way.
 */
export interface NativeWatchOptions {
  /** How often directories left unwatched by the OS watch limit are looked through (default 60 s). */
  unwatchedScanMs?: number;
  /**
   * Test fault: at most this many watches, the next refused as the kernel refuses one past
   * fs.inotify.max_user_watches (a setting tests cannot lower without affecting the machine).
   */
  maxWatches?: number;
}

export function watchFolderNative(
  root: string,
  ignore: () => IgnoreMatcher,
  handlers: WatchHandlers,
  platform: NodeJS.Platform = process.platform,
  options: NativeWatchOptions = {},
): FolderWatch {
  return platform === 'linux' ? new PerDirectoryWatch(root, ignore, handlers, options) : recursiveWatch(root, handlers);
}

const DEFAULT_UNWATCHED_SCAN_MS = 60_000;

function recursiveWatch(root: string, handlers: WatchHandlers): FolderWatch {
  const watcher = watch(root, { recursive: true, persistent: true }, (_event, filename) => {
    if (filename === null) handlers.onRescanNeeded?.();
    else handlers.onHint(filename.split(/[\\/]/).join('/'));
  });
  watcher.on('error', (error) => {
    handlers.onError(new FerryError('watch_failed', `Watching ${root} failed: ${error.message}`, { retryable: true, cause: error }));
    handlers.onHint('');
  });
  return { ready: Promise.resolve(), close: async () => watcher.close() };
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

class PerDirectoryWatch implements FolderWatch {
  readonly ready: Promise<void>;
  /**
   * Each watch with the inode of the directory it was made on: inotify follows the directory,
   * not its name, so a folder renamed away and made again under its old name (`mv logs logs.1 &&
   * mkdir logs`) leaves the old watch on logs.1 filed under `logs`, and the new `logs` unwatched.
   */
  private readonly watchers = new Map<string, { watcher: NodeWatcher; ino: number }>();
  private closed = false;
  private limitReported = false;
  /** Directories the OS watch limit left unwatched: looked through on a timer instead. */
  private readonly unwatched = new Set<string>();
  private pollTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly root: string,
    private readonly ignore: () => IgnoreMatcher,
    private readonly handlers: WatchHandlers,
    private readonly options: NativeWatchOptions = {},
  ) {
    this.ready = this.addTree('');
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    for (const w of this.watchers.values()) w.watcher.close();
    this.watchers.clear();
  }

  /** Watches dir and every directory below it, yielding to the loop as it goes. */
  private async addTree(dirRel: string): Promise<void> {
    const stack = [dirRel];
    let sliceStart = performance.now();
    while (stack.length > 0 && !this.closed) {
      const rel = stack.pop()!;
      if (this.watchers.has(rel) || !this.watchDir(rel)) continue;
      let entries;
      try {
        entries = readdirSync(joinDisk(this.root, rel), { withFileTypes: true });
      } catch {
        continue;
      }
      for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
        if (!this.ignore().ignores(toKey(child), true)) stack.push(child);
      }
      if (performance.now() - sliceStart > 10) {
        await yieldToLoop();
        sliceStart = performance.now();
      }
    }
  }

  private watchDir(rel: string): boolean {
    let watcher: NodeWatcher;
    let ino: number;
    try {
      if (this.options.maxWatches !== undefined && this.watchers.size >= this.options.maxWatches) {
        throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached (test fault)'), { code: 'ENOSPC' });
      }
      const abs = joinDisk(this.root, rel);
      ino = lstatSync(abs).ino;
      watcher = watch(abs, { persistent: true }, (_event, filename) => this.onEvent(rel, filename));
    } catch (error) {
      this.reportWatchError(rel, error);
      return false;
    }
    watcher.on('error', (error) => {
      this.unwatch(rel);
      // A watched directory that vanished errors on some systems: that is a change, not a failure.
      this.handlers.onHint(rel);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.reportWatchError(rel, error);
    });
    this.watchers.set(rel, { watcher, ino });
    return true;
  }

  /**
   * While some directories are unwatched: each period, try to watch them again (the limit may
   * have been raised or watches freed) and have each looked through, so no change is missed.
   */
  private pollUnwatched(): void {
    if (this.pollTimer || this.closed) return;
    this.pollTimer = setInterval(() => {
      if (this.closed) return;
      const dirs = [...this.unwatched];
      this.unwatched.clear();
      for (const rel of dirs) {
        // Watched again with its subtree; refused again: back in the set (reportWatchError).
        void this.addTree(rel);
        if (rel === '') this.handlers.onRescanNeeded?.();
        else this.handlers.onRescanUnder?.(rel);
      }
      if (this.unwatched.size === 0 && this.pollTimer) {
        clearInterval(this.pollTimer);
        this.pollTimer = null;
      }
    }, this.options.unwatchedScanMs ?? DEFAULT_UNWATCHED_SCAN_MS);
    this.pollTimer.unref();
  }

  private onEvent(dirRel: string, filename: string | Buffer | null): void {
    if (this.closed) return;
    if (filename === null) {
      // The kernel dropped the name (queue overflow): everything below may have changed.
      this.handlers.onRescanNeeded?.();
      return;
    }
    const name = filename.toString();
    const rel = dirRel === '' ? name : `${dirRel}/${name}`;
    this.handlers.onHint(rel);
    let st;
    try {
      st = lstatSync(joinDisk(this.root, rel));
    } catch {
      this.unwatchTree(rel);
      if (dirRel === '') this.checkRootStillThere();
      return;
    }
    // Another directory (or a file) under a watched name: that watch went with the old one.
    const watched = this.watchers.get(rel);
    if (watched && (!st.isDirectory() || watched.ino !== st.ino)) this.unwatchTree(rel);
    if (st.isDirectory() && !this.watchers.has(rel) && !this.ignore().ignores(toKey(rel), true)) {
      void this.addTree(rel);
    }
  }

  private checkRootStillThere(): void {
    try {
      lstatSync(this.root);
    } catch {
      this.handlers.onHint('');
    }
  }

  private unwatch(rel: string): void {
    this.watchers.get(rel)?.watcher.close();
    this.watchers.delete(rel);
  }

  private unwatchTree(rel: string): void {
    if (!this.watchers.has(rel)) return;
    this.unwatch(rel);
    for (const key of [...this.watchers.keys()]) if (key.startsWith(`${rel}/`)) this.unwatch(key);
  }

  private reportWatchError(rel: string, error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    if (code === 'ENOSPC') {
      this.unwatched.add(rel);
      this.pollUnwatched();
      if (this.limitReported) return;
      this.limitReported = true;
      const every = Math.round((this.options.unwatchedScanMs ?? DEFAULT_UNWATCHED_SCAN_MS) / 100) / 10;
      this.handlers.onError(
        new FerryError(
          'watch_limit',
          `The system limit of watched folders is reached (fs.inotify.max_user_watches): folders it left unwatched are looked through every ${every} s instead. ` +
            'To watch them all, raise it: sudo sysctl fs.inotify.max_user_watches=524288, and keep it in /etc/sysctl.d/',
          { retryable: false, cause: error },
        ),
      );
      return;
    }
    log.warn('cannot watch directory', { dir: rel, error });
    this.handlers.onError(new FerryError('watch_failed', `Cannot watch ${rel || this.root}: ${(error as Error).message}`, { retryable: true, cause: error }));
  }
}

// ---- The chokidar backend ----

/**
 * chokidar on one folder (the 'chokidar' backend; see the native backend above for why it is not
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
