import { createHash } from 'node:crypto';
import type { DeleteOperation, Operation, OperationResult, SyncKind, UpsertOperation } from '../protocol';
import { entriesBelow, fileAbove, firstLiveBelow, MoveApplier } from './move';
import type { BlockStore } from './storage/blocks';
import { ENTRY_COLUMNS, ENTRY_UPSERT, VERSION_COLUMNS, type SqlDb } from './storage/sql';
import { RestoreResolver } from './restore';

export interface EntryRow {
  seq: number;
  kind: SyncKind;
  deleted: number;
  size: number;
  mtime: number;
  blocks: string;
}

export interface ApplyContext {
  folderId: string;
  device: string;
  taskId: string;
  now: number;
  /** Sizes of the blocks the server holds, looked up before the transaction. */
  blockSizes: ReadonlyMap<string, number>;
  /** Set while a restore writes: the revision whose content it brings back (the feed names it). */
  restoredFrom?: number;
}


/**
 * Applies one batch operation inside the caller's transaction. A stale baseRevision is a
 * conflict, never an overwrite; an upsert identical to the current version is a no-op that
 * answers the current revision (so replays never create a second revision).
 *
 * Directories are entries like files (kind 'dir', size 0, no blocks). A directory that
 * still holds live entries is never deleted or replaced by a file: that is a conflict
 * (docs/sync-api.md), so nothing another device put inside it is lost.
 */
export class OperationApplier {
  readonly restores: RestoreResolver;
  private readonly moves: MoveApplier;

  constructor(private readonly db: SqlDb) {
    this.restores = new RestoreResolver(db);
    this.moves = new MoveApplier(db, (path, kind, deleted, size, mtime, blocks, ctx, movedFrom) => this.write(path, kind, deleted, size, mtime, blocks, ctx, movedFrom));
  }

  private getEntry(folderId: string, path: string): Promise<EntryRow | undefined> {
    return this.db.get<EntryRow>('SELECT seq, kind, deleted, size, mtime, blocks FROM entries WHERE folder_id = ? AND path = ?', [folderId, path]);
  }

  async apply(op: Operation, ctx: ApplyContext): Promise<OperationResult> {
    // A restore is an upsert of an earlier revision's content (server/restore.ts).
    if (op.action === 'restore') {
      const resolved = await this.restores.resolve(op, ctx.folderId, ctx.blockSizes);
      return 'failure' in resolved ? resolved.failure : this.apply(resolved.upsert, { ...ctx, restoredFrom: Number(op.revision) });
    }
    if (op.action === 'move') return this.moves.apply(op, ctx);
    const current = await this.getEntry(ctx.folderId, op.path);
    const liveRevision = current && !current.deleted ? String(current.seq) : null;
    // A directory has no content: creating one that exists is that directory, whatever base the
    // client names (two devices making the same folder is no conflict; chaos seed 2).
    if (op.action === 'upsert' && op.kind === 'dir' && liveRevision !== null && current?.kind === 'dir') return { ok: true, revision: liveRevision };
    // Uploading the bytes the server already holds is done, whatever the base: the state asked
    // for holds (docs/sync-api.md: identical content is no conflict; chaos seed 4: an upload in flight
    // while the puller recorded the same bytes at a newer revision conflicted forever).
    if (op.action === 'upsert' && op.kind !== 'dir' && liveRevision !== null && current?.kind === 'file' && current.size === op.size && current.blocks === JSON.stringify(op.blocks)) {
      return { ok: true, revision: liveRevision };
    }
    // Deleting what is already absent is done, whatever base the client names: the state it asks
    // for holds and nothing is lost (chaos seed 3: two devices deleting one file; a delete that
    // followed an upload which never landed). The tombstone's revision; a path that never
    // existed gets a tombstone, so the answer still names a real revision.
    if (op.action === 'delete' && liveRevision === null) {
      return { ok: true, revision: String(current ? current.seq : await this.write(op.path, 'file', true, 0, 0, '[]', ctx)) };
    }
    // After a delete the client may name the tombstone's revision or null: both mean "absent".
    const baseMatches = op.baseRevision === liveRevision || (current?.deleted === 1 && op.baseRevision === String(current.seq));
    if (!baseMatches) {
      return {
        ok: false,
        code: 'conflict',
        message: `Path was changed on the server: base revision ${op.baseRevision ?? 'null'}, current ${liveRevision ?? 'none'}`,
        currentRevision: liveRevision,
      };
    }
    return op.action === 'upsert' ? this.upsert(op, current, ctx) : this.delete(op, current!, ctx);
  }

  /** A live directory with live entries below it: refused, with the current revision. */
  private async notEmpty(folderId: string, path: string, current: EntryRow | undefined, doing: string): Promise<OperationResult | null> {
    if (!current || current.deleted || current.kind !== 'dir') return null;
    const child = await firstLiveBelow(this.db, folderId, path);
    if (!child) return null;
    return {
      ok: false,
      code: 'conflict',
      message: `Cannot ${doing} directory ${path}: it still holds ${child} on the server`,
      currentRevision: String(current.seq),
    };
  }

  private async upsert(op: UpsertOperation, current: EntryRow | undefined, ctx: ApplyContext): Promise<OperationResult> {
    const live = current && !current.deleted ? current : undefined;
    const below = await fileAbove(this.db, ctx.folderId, op.path);
    if (below) return below;
    if (op.kind === 'dir') {
      // A directory has no content: one that exists is the same directory (its mtime moves with every child).
      if (live?.kind === 'dir') return { ok: true, revision: String(live.seq) };
      return { ok: true, revision: String(await this.write(op.path, 'dir', false, 0, op.mtime, '[]', ctx)) };
    }
    // One look below the path: a folder entry's own words, else the entries a path implies (one query either way).
    const refused = live?.kind === 'dir' ? await this.notEmpty(ctx.folderId, op.path, live, 'replace with a file the') : await entriesBelow(this.db, ctx.folderId, op.path, live ? String(live.seq) : null);
    if (refused) return refused;
    const missing = [...new Set(op.blocks.filter((h) => !ctx.blockSizes.has(h)))];
    if (missing.length > 0) {
      return { ok: false, code: 'missing_blocks', message: `${missing.length} block(s) are not on the server`, missing };
    }
    const total = op.blocks.reduce((sum, h) => sum + (ctx.blockSizes.get(h) ?? 0), 0);
    if (total !== op.size) {
      return { ok: false, code: 'invalid_request', message: `size ${op.size} does not match the ${total} bytes of its blocks` };
    }
    const blocks = JSON.stringify(op.blocks);
    if (live?.kind === 'file' && live.blocks === blocks && live.size === op.size && live.mtime === op.mtime) {
      return { ok: true, revision: String(live.seq) };
    }
    return { ok: true, revision: String(await this.write(op.path, 'file', false, op.size, op.mtime, blocks, ctx)) };
  }

  /** A live entry (absent ones were answered in apply). */
  private async delete(op: DeleteOperation, current: EntryRow, ctx: ApplyContext): Promise<OperationResult> {
    const refused = await this.notEmpty(ctx.folderId, op.path, current, 'delete');
    if (refused) return refused;
    return { ok: true, revision: String(await this.write(op.path, current.kind, true, 0, current.mtime, '[]', ctx)) };
  }

  /**
   * One new revision of a path; `movedFrom` only for the new entry of a move, `restored_from`
   * only for a restore's (ctx). Both describe this revision alone: any later write clears them.
   */
  private async write(path: string, kind: SyncKind, deleted: boolean, size: number, mtime: number, blocks: string, ctx: ApplyContext, movedFrom: string | null = null): Promise<number> {
    const flag = deleted ? 1 : 0;
    const params = [ctx.folderId, path, kind, flag, size, mtime, blocks, ctx.now, ctx.device, ctx.taskId, movedFrom, ctx.restoredFrom ?? null];
    if (this.db.dialect === 'postgres') {
      // One round trip: the entry takes the seq its version was just given.
      const row = await this.db.get<{ seq: number }>(
        `WITH v AS (
           INSERT INTO versions (${VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *
         )
         INSERT INTO entries (${ENTRY_COLUMNS}) SELECT ${ENTRY_COLUMNS} FROM v
         ${ENTRY_UPSERT}
         RETURNING seq`,
        params,
      );
      return Number(row?.seq);
    }
    const row = await this.db.get<{ seq: number }>(`INSERT INTO versions (${VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`, params);
    const seq = Number(row?.seq);
    // The entry from the values in hand (ENTRY_COLUMNS' order), not read back from the version just written.
    await this.db.run(`INSERT INTO entries (${ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ${ENTRY_UPSERT}`, [
      ctx.folderId, path, seq, kind, flag, size, mtime, blocks, ctx.now, ctx.device, movedFrom, ctx.restoredFrom ?? null,
    ]);
    return seq;
  }
}

/**
 * Blocks a file upsert names whose stored sizes do not add up to its size are read and checked
 * against their hashes: one that fails is damaged (a partial object some S3-compatible servers
 * keep when an overwrite is cut off) and is left out of `sizes`, so the commit answers
 * `missing_blocks` and the device's upload writes it whole. Intact ones leave the mismatch to
 * the device (`invalid_request`). Read only on that rare mismatch (docs/sync-api.md, "Lost blocks").
 */
export async function dropDamaged(store: Pick<BlockStore, 'readMany'>, operations: readonly Operation[], sizes: Map<string, number>): Promise<string[]> {
  const suspects = new Set<string>();
  for (const op of operations) {
    if (op.action !== 'upsert' || op.kind !== 'file' || !op.blocks.every((h) => sizes.has(h))) continue;
    if (op.blocks.reduce((sum, h) => sum + sizes.get(h)!, 0) !== op.size) for (const h of op.blocks) suspects.add(h);
  }
  const damaged: string[] = [];
  for (const hash of suspects) {
    const [data] = await store.readMany([hash], Number.MAX_SAFE_INTEGER);
    if (data && createHash('sha256').update(data).digest('hex') === hash) continue;
    sizes.delete(hash);
    damaged.push(hash);
  }
  return damaged;
}
