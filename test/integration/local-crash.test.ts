import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentHashOf } from '../../main/engine/hashing';
import { openStore } from '../../main/store';
import { makeTempDir } from '../helpers/local-temp';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixture = path.join(repoRoot, 'test/fixtures/local-crash-indexer.ts');
const hashOfText = (s: string) => contentHashOf([createHash('sha256').update(s).digest('hex')]);

interface ChildRun {
  killedAt: number | null;
  finished: boolean;
}

/** Runs the indexer; with killAfterQueued, kill -9 it once it reports that many queued. */
function runIndexer(args: string[], killAfterQueued?: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let killedAt: number | null = null;
    let finished = false;
    let buffer = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('done')) finished = true;
        const queued = Number(line.split(' ')[1]);
        if (killAfterQueued !== undefined && killedAt === null && line.startsWith('progress') && queued >= killAfterQueued) {
          killedAt = queued;
          child.kill('SIGKILL');
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' || code === 0) resolve({ killedAt, finished });
      else reject(new Error(`indexer exited with ${code}: ${stderr}`));
    });
  });
}

describe('local side: crash and restart', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeEach(() => (tmp = makeTempDir()));
  afterEach(() => tmp.cleanup());

  it('a kill -9 midway through indexing loses no change and duplicates none', async () => {
    const root = path.join(tmp.dir, 'root');
    const dbFile = path.join(tmp.dir, 'state.db');
    const DIRS = 20;
    const PER_DIR = 150;
    const content = new Map<string, string>();
    for (let d = 0; d < DIRS; d++) {
      mkdirSync(path.join(root, `d${d}`), { recursive: true });
      for (let i = 0; i < PER_DIR; i++) {
        const rel = `d${d}/f${i}.txt`;
        content.set(rel, `file ${d}/${i}`);
        writeFileSync(path.join(root, rel), content.get(rel)!);
      }
    }
    const args = [dbFile, root, 'f1'];

    const first = await runIndexer(args, 400);
    expect(first.killedAt).not.toBeNull();
    expect(first.finished).toBe(false);

    // While Ferry is down: edits, deletes and new files, some already indexed, some not.
    const modified = ['d0/f0.txt', 'd0/f1.txt', 'd19/f149.txt'];
    for (const rel of modified) {
      content.set(rel, `modified ${rel} with more bytes`);
      writeFileSync(path.join(root, rel), content.get(rel)!);
    }
    const deleted = ['d0/f2.txt', 'd19/f148.txt'];
    for (const rel of deleted) {
      rmSync(path.join(root, rel));
      content.delete(rel);
    }
    content.set('d5/new.txt', 'brand new');
    writeFileSync(path.join(root, 'd5/new.txt'), 'brand new');

    // Killed again, later in its own run.
    const second = await runIndexer(args, 800);
    expect(second.killedAt).not.toBeNull();
    expect(second.finished).toBe(false);
    const third = await runIndexer(args);
    expect(third.finished).toBe(true);

    const store = openStore(dbFile);
    try {
      const items = new Map<string, { op: string; contentHash: string | null; generation: number; size: number }>();
      let afterId: number | undefined;
      for (;;) {
        const page = store.queue.list({ limit: 1000, ...(afterId ? { afterId } : {}) });
        for (const item of page.items) {
          expect(items.has(item.path), `duplicate ${item.path}`).toBe(false);
          items.set(item.path, item);
        }
        if (page.nextAfterId === null) break;
        afterId = page.nextAfterId;
      }
      // Every file and directory exactly once, with the content on disk now.
      expect(items.size).toBe(content.size + DIRS);
      for (const [rel, text] of content) {
        const item = items.get(rel);
        expect(item, rel).toMatchObject({ op: 'upsert', contentHash: hashOfText(text), size: Buffer.byteLength(text) });
        // Queued once, unless it really changed after being queued.
        if (!modified.includes(rel)) expect(item!.generation, rel).toBe(1);
      }
      // Never pushed, then deleted: nothing left to do for them.
      for (const rel of deleted) {
        expect(items.has(rel)).toBe(false);
        expect(store.index.get('f1', rel)).toBeUndefined();
      }
      expect(store.index.count('f1')).toBe(content.size + DIRS);
      expect(store.queue.countsByState()).toMatchObject({ pending: content.size + DIRS, in_flight: 0 });
    } finally {
      store.close();
    }
  }, 60_000);
});
