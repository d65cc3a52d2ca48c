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
export function watchFolderNative(
  root: string,
  ignore: () => IgnoreMatcher,
  handlers: WatchHandlers,
  platform: NodeJS.Platform = process.platform,
): FolderWatch {
  return platform === 'linux' ? new PerDirectoryWatch(root, ignore, handlers) : recursiveWatch(root, handlers);
}

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
  private readonly watchers = new Map<string, FSWatcher>();
  private closed = false;
  private limitReported = false;

  constructor(
    private readonly root: string,
    private readonly ignore: () => IgnoreMatcher,
    private readonly handlers: WatchHandlers,
  ) {
    this.ready = this.addTree('');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
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
    try {
      watcher = watch(joinDisk(this.root, rel), { persistent: true }, (_event, filename) => this.onEvent(rel, filename));
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
    this.watchers.set(rel, watcher);
    return true;
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
    let isDir = false;
    try {
      isDir = lstatSync(joinDisk(this.root, rel)).isDirectory();
    } catch {
      this.unwatchTree(rel);
      if (dirRel === '') this.checkRootStillThere();
      return;
    }
    if (isDir && !this.watchers.has(rel) && !this.ignore().ignores(toKey(rel), true)) {
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
    this.watchers.get(rel)?.close();
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
      if (this.limitReported) return;
      this.limitReported = true;
      this.handlers.onError(
        new FerryError('watch_limit', 'The system limit of watched folders is reached (fs.inotify.max_user_watches); some changes are only found by a rescan', {
          retryable: false,
          cause: error,
        }),
      );
      return;
    }
    log.warn('cannot watch directory', { dir: rel, error });
    this.handlers.onError(new FerryError('watch_failed', `Cannot watch ${rel || this.root}: ${(error as Error).message}`, { retryable: true, cause: error }));
  }
}
