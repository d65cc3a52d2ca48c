import { lstatSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import { FerryError } from '../../protocol/errors';
import { createLogger } from '../logging';
import type { IgnoreMatcher } from './ignore';
import { joinDisk, toKey } from './paths';
import type { FolderWatch, WatchHandlers } from './watcher';

const log = createLogger('engine:watcher');

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
  private readonly watchers = new Map<string, { watcher: FSWatcher; ino: number }>();
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
    let watcher: FSWatcher;
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
