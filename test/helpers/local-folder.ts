import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Timers } from '../../main/engine/local-side';
import { openStore, type Store } from '../../main/store';
import { makeTempDir } from './local-temp';

export interface TestFolder {
  base: string;
  root: string;
  dbFile: string;
  store: Store;
  folderId: string;
  write(rel: string, content: string | Buffer): string;
  mkdir(rel: string): string;
  remove(rel: string): void;
  abs(rel: string): string;
  /** Queue rows that are not done, as path → op, for compact assertions. */
  pendingOps(): Record<string, string>;
  cleanup(): void;
}

/** A real temp folder under a real SQLite store, with one folder registered. */
export function makeTestFolder(folderId = 'f1'): TestFolder {
  const tmp = makeTempDir();
  const root = path.join(tmp.dir, 'root');
  mkdirSync(root);
  const dbFile = path.join(tmp.dir, 'state.db');
  const store = openStore(dbFile);
  store.folders.add({ id: folderId, localRoot: root, remoteId: `remote-${folderId}` });
  const abs = (rel: string) => path.join(root, ...rel.split('/'));
  return {
    base: tmp.dir,
    root,
    dbFile,
    store,
    folderId,
    abs,
    write(rel, content) {
      mkdirSync(path.dirname(abs(rel)), { recursive: true });
      writeFileSync(abs(rel), content);
      return abs(rel);
    },
    mkdir(rel) {
      mkdirSync(abs(rel), { recursive: true });
      return abs(rel);
    },
    remove: (rel) => rmSync(abs(rel), { recursive: true, force: true }),
    pendingOps() {
      const out: Record<string, string> = {};
      let afterId: number | undefined;
      for (;;) {
        const page = store.queue.list({ folderId, limit: 1000, ...(afterId ? { afterId } : {}) });
        for (const item of page.items) if (item.state !== 'done') out[item.path] = `${item.kind}:${item.op}`;
        if (page.nextAfterId === null) return out;
        afterId = page.nextAfterId;
      }
    },
    cleanup() {
      try {
        store.close();
      } catch {
        // already closed by the test
      }
      tmp.cleanup();
    },
  };
}

/** Timers a test advances by hand. */
export class ManualTimers implements Timers {
  private t = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (handle: unknown): void => void this.pending.delete(handle as number);
  advance(ms: number): void {
    const until = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.pending) if (entry[1].at <= until && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = until;
  }
}
