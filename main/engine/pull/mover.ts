import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { contentHashOf, hashStable } from '../hashing';
import { decideMove, type MoveAction } from './decide';
import { blockRefs } from './downloader';
import type { LocalBlockRef } from '../hashing';
import { moveNoClobber } from '../no-clobber';
import type { IndexEntry } from '../../store';
import { dropQueued } from './store-port';
import {
  dirSyncer,
  observe,
  placeParents,
  pruneEmptyParents,
  settled,
  toBase,
  type ApplyContext,
  type Observation,
  type Outcome,
  type Plan,
} from './applier';

/**
 * Remote moves applied as local renames (docs/conflict-rules.md, "Moves and renames", rows
 * M1-M3). A pair is the moved entry's plan (an upsert carrying `movedFrom`) and the plan of
 * its source's delete, both read in the same pull.
 */
export interface MovePair {
  target: Plan;
  source: Plan;
}

const moveOf = (target: Plan['entry'], src: Observation, dst: Observation): MoveAction =>
  decideMove({
    remote: target,
    source: { base: toBase(src.base), local: src.local, pending: src.pending?.op ?? null, pendingInFlight: src.pending?.inFlight ?? false, pendingReplaced: src.pendingReplaced },
    target: { local: dst.local, pending: dst.pending?.op ?? null },
  });

/**
 * Pairs file upserts that carry `movedFrom` with the delete of that path among the plans, when
 * the move can be a local rename (M1/M2). Each source serves one target at most.
 */
export function pairMoves(plans: readonly Plan[]): MovePair[] {
  const deletes = new Map<string, Plan>();
  for (const p of plans) if (p.entry.deleted && p.entry.kind !== 'dir') deletes.set(p.entry.path, p);
  const pairs: MovePair[] = [];
  for (const target of plans) {
    const from = target.entry.movedFrom;
    const source = from === undefined ? undefined : deletes.get(from);
    if (!source || target.entry.deleted) continue;
    if (moveOf(target.entry, source.seen, target.seen).kind !== 'move-local') continue;
    deletes.delete(source.entry.path);
    pairs.push({ target, source });
  }
  return pairs;
}

/**
 * M1/M2: renames the source to the target (never replacing anything) after the local side
 * was checked again. Null when the move no longer holds (the usual rows then decide both paths).
 */
export async function applyMove(ctx: ApplyContext, pair: MovePair): Promise<Outcome | null> {
  const entry = pair.target.entry;
  const src = await observe(ctx, pair.source.entry);
  const dst = await observe(ctx, entry);
  const action = moveOf(entry, src, dst);
  const base = src.base;
  if (action.kind !== 'move-local' || !base || entry.revision === null) return null;
  await placeParents(ctx, entry.path);
  // A kill between the rename and the index commit: the next scan records the file as this
  // revision instead of uploading it as new (as a download's intent does).
  const inode = src.local.type === 'file' ? src.local.inode : null; // a rename keeps it
  ctx.store.index.putIntent({ folderId: ctx.folderId, path: entry.path, revision: entry.revision, size: entry.size, contentHash: contentHashOf(entry.blocks), blocks: [...entry.blocks], inode });
  let moved = false;
  try {
    moved = await moveNoClobber(src.abs, dst.abs);
  } finally {
    if (!moved) ctx.store.index.removeIntent(ctx.folderId, entry.path);
  }
  if (!moved) return null;
  await dirSyncer.flush(path.dirname(dst.abs));
  if (path.dirname(src.abs) !== path.dirname(dst.abs)) await dirSyncer.flush(path.dirname(src.abs));
  // The stat the source was seen with (a rename keeps inode, size and mtime), not one read now:
  // a write of the target right after the rename must read as a change (M1, chaos seed 10950).
  const seenAt = src.local.type === 'file' ? src.local : null;
  // M2: the user's edit travels with the file and goes up on the moved revision.
  const edited = action.rule === 'M2' ? await hashStable(dst.abs) : null;
  ctx.store.transaction(() => {
    settled(ctx, src.base!.path);
    settled(ctx, entry.path);
    ctx.store.index.removeIntent(ctx.folderId, entry.path);
    ctx.store.index.remove(ctx.folderId, base.path);
    dropQueued(ctx.store, ctx.folderId, base.path, src.pending, null);
    const synced = action.rule === 'M1' && seenAt ? { size: seenAt.size, mtimeMs: seenAt.mtimeMs } : { size: base.size, mtimeMs: base.mtimeMs };
    ctx.store.index.put({
      folderId: ctx.folderId,
      path: entry.path,
      kind: 'file',
      ...synced,
      inode: seenAt?.inode ?? base.inode,
      contentHash: base.contentHash ?? contentHashOf(entry.blocks),
      blocks: [...entry.blocks],
      syncedRevision: entry.revision,
    });
    if (edited) {
      const state = { folderId: ctx.folderId, path: entry.path, kind: 'file' as const, size: edited.size, mtimeMs: edited.mtimeMs, inode: edited.inode, contentHash: edited.contentHash, blocks: edited.blocks };
      ctx.store.paths.localChanged(state, entry.revision);
    }
  });
  await pruneEmptyParents(ctx, base.path);
  return { kind: 'moved', path: entry.path, rule: action.rule, from: base.path };
}

/**
 * M3: a file the pull deletes is set aside in `.ferry/tmp` instead of unlinked, so the
 * downloads of the same pull can reuse its blocks (re-hashed before use): a move the feed does
 * not mark, a file moved and edited on another device. Removed at the end of the pull (and by
 * the next one's tmp cleanup after a kill).
 */
export class SetAside {
  private readonly files: string[] = [];
  private readonly refs = new Map<string, LocalBlockRef>();

  constructor(private readonly tmpDir: string) {}

  /** Moves the file away; false when it could not be (then it is deleted as usual). */
  async take(abs: string, size: number, blocks: readonly string[] | null): Promise<boolean> {
    const aside = path.join(this.tmpDir, `pull-aside-${randomUUID()}`);
    if (!(await moveNoClobber(abs, aside))) return false;
    this.files.push(aside);
    for (const [hash, ref] of blockRefs(aside, size, blocks ?? [])) if (!this.refs.has(hash)) this.refs.set(hash, ref);
    return true;
  }

  lookup(hash: string): LocalBlockRef | undefined {
    return this.refs.get(hash);
  }

  async clear(): Promise<void> {
    this.refs.clear();
    await Promise.all(this.files.splice(0).map((f) => fsp.rm(f, { force: true })));
  }
}

/**
 * Deletes of this pull whose bytes live on under another name: arriving in the same pull, or
 * already in the folder (downloaded by an earlier pull). A move the feed does not mark (sent as a
 * delete and an upload) is one of these. Not weighed by the mass-delete guard: nothing is lost
 * (docs/conflict-rules.md, "Moves and renames"). Each other name accounts for one delete.
 */
export function unmarkedMoves(plans: readonly Plan[], indexed: () => Iterable<IndexEntry>): Set<Plan> {
  const moves = new Set<Plan>();
  const deletes = plans.filter((p) => p.entry.deleted && p.seen.base?.kind === 'file' && p.seen.base.blocks);
  if (deletes.length === 0) return moves;
  const contentKey = (size: number, blocks: readonly string[]) => `${size}:${blocks.join(',')}`;
  const elsewhere = new Map<string, number>();
  const add = (size: number, blocks: readonly string[]) => {
    const k = contentKey(size, blocks);
    elsewhere.set(k, (elsewhere.get(k) ?? 0) + 1);
  };
  const touched = new Set(plans.map((p) => p.entry.path));
  for (const p of plans) if (!p.entry.deleted && p.entry.kind !== 'dir') add(p.entry.size, p.entry.blocks);
  for (const row of indexed()) if (row.kind === 'file' && row.blocks && !touched.has(row.path)) add(row.size, row.blocks);
  for (const p of deletes) {
    const base = p.seen.base!;
    const k = contentKey(base.size, base.blocks!);
    const left = elsewhere.get(k) ?? 0;
    if (left === 0) continue;
    elsewhere.set(k, left - 1);
    moves.add(p);
  }
  return moves;
}
