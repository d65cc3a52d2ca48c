import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkInvariants } from '../chaos/invariants';
import { Ledger } from '../chaos/ledger';
import type { FileEntry, Tree } from '../chaos/snapshot';
import { Executor, makePlan, type Op } from '../chaos/workload';
import { deviceFolders } from '../helpers/local-temp';

// Chaos --restore: users bring deleted files back through their agent while the others sync.
describe('chaos --restore', () => {
  const temps: Array<() => void> = [];
  afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));
  const fingerprint = (p: unknown) => createHash('sha256').update(JSON.stringify(p)).digest('hex').slice(0, 16);

  // A seed replays its plan: the plans of the other modes are the ones every earlier seed ran
  // (fingerprints taken from the generator before restores existed).
  it('leaves the plan of every other mode as it was', () => {
    expect(fingerprint(makePlan(18335, 2, 60, {}))).toBe('2736c067e98b41bb');
    expect(fingerprint(makePlan(40079, 3, 60, { bulkDeletes: true }))).toBe('d8960c3f5cb0ee97');
    expect(fingerprint(makePlan(7, 3, 150, { restores: false }))).toBe('48f12257d437dc44');
    expect(makePlan(7, 3, 150).ops.some((op) => op.kind === 'restore')).toBe(false);
  });

  it('plans restores of what users deleted, and later ops may use what came back', () => {
    const { ops } = makePlan(7, 3, 300, { restores: true });
    const restores = ops.filter((op): op is Extract<Op, { kind: 'restore' }> => op.kind === 'restore');
    expect(restores.length).toBeGreaterThan(5);
    // Most restores name the folder a deleted file was in.
    const deletedDirs = new Set<string | null>();
    let aimed = 0;
    for (const op of ops) {
      if (op.kind === 'delete') deletedDirs.add(path.posix.dirname(op.path) === '.' ? null : path.posix.dirname(op.path));
      if (op.kind === 'restore' && deletedDirs.has(op.prefix)) aimed++;
    }
    expect(aimed).toBeGreaterThan(restores.length / 2);
    // A file deleted, then restored, is edited again later in some seed's plan: the model took it back.
    const backAgain = ops.some((op, i) => {
      if (op.kind !== 'delete') return false;
      const restoredAt = ops.findIndex((o, j) => j > i && o.kind === 'restore' && (o.prefix === null || op.path.startsWith(`${o.prefix}/`)));
      return restoredAt > 0 && ops.slice(restoredAt + 1).some((o) => (o.kind === 'append' || o.kind === 'truncate') && o.path === op.path);
    });
    expect(backAgain).toBe(true);
  });

  const devices = () => deviceFolders(['dev-a', 'dev-b'], (cleanup) => temps.push(cleanup));

  it('runs a restore through the hook and records where it may bring files back', async () => {
    const ledger = new Ledger();
    const asked: Array<[number, string | null]> = [];
    const executor = new Executor(devices(), ledger, undefined, { restore: async (device, prefix) => void asked.push([device, prefix]) });
    await executor.run({ kind: 'restore', device: 1, prefix: 'docs' }, 1);
    expect(asked).toEqual([[1, 'docs']]);
    expect(executor.stats.byKind.restore).toBe(1);
    expect(ledger.restoreReached('docs/a.txt')).toBe(true);
    expect(ledger.restoreReached('docs')).toBe(true);
    expect(ledger.restoreReached('docs2/a.txt')).toBe(false);
    expect(ledger.restoreReached('a.txt')).toBe(false);
  });

  it('records the restore even when the agent does not answer (the server may have done it)', async () => {
    const ledger = new Ledger();
    const executor = new Executor(devices(), ledger, undefined, {
      restore: async () => {
        throw new Error('socket hang up');
      },
    });
    await executor.run({ kind: 'restore', device: 0, prefix: null }, 1);
    expect(executor.stats.skipped).toBe(1);
    expect(ledger.restoreReached('any/where.txt')).toBe(true);
  });

  it('skips a restore with no agent to ask, and records nothing', async () => {
    const ledger = new Ledger();
    const executor = new Executor(devices(), ledger);
    await executor.run({ kind: 'restore', device: 0, prefix: 'docs' }, 1);
    expect(executor.stats.skipped).toBe(1);
    expect(ledger.restoreReached('docs/a.txt')).toBe(false);
  });

  // A restored file meets what a device wrote there and had not sent: a conflict copy, no
  // spurious one. A copy elsewhere, where no two devices wrote and nothing was restored, still is.
  it('does not call a conflict copy under a restored folder spurious; one elsewhere still is', () => {
    const ledger = new Ledger();
    ledger.restoring('docs');
    const copy = (p: string): [string, FileEntry] => [p, { size: 1, blocks: ['b'], hash: 'h'.repeat(64) }];
    const server: Tree = {
      files: new Map([copy('docs/a (conflict from dev-a 2026-12-05 010203).txt'), copy('b (conflict from dev-b 2026-12-05 010203).txt')]),
      dirs: new Set(['docs']),
      nfcClashes: [],
      temps: [],
      links: [],
    };
    const failures = checkInvariants({ server, devices: [], ledger, compareEmptyDirs: false });
    expect(failures).toEqual(['[3] spurious conflict copy "b (conflict from dev-b 2026-12-05 010203).txt": no concurrent edits of "b.txt"']);
  });
});
