import type { DeleteOperation, Operation, OperationResult, UpsertOperation } from '../protocol';
import type { Db } from './storage/db';

interface EntryRow {
  seq: number;
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
}

/**
 * Applies one batch operation inside the caller's transaction. A stale baseRevision is a
 * conflict, never an overwrite; an upsert identical to the current version is a no-op that
 * answers the current revision (so replays never create a second revision).
 */
export class OperationApplier {
  private readonly getEntry;
  private readonly insertVersion;
  private readonly upsertEntry;

  constructor(db: Db) {
    this.getEntry = db.prepare<[string, string], EntryRow>('SELECT seq, deleted, size, mtime, blocks FROM entries WHERE folder_id = ? AND path = ?');
    this.insertVersion = db.prepare(
      'INSERT INTO versions (folder_id, path, deleted, size, mtime, blocks, modified_at, device, task_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.upsertEntry = db.prepare(
      `INSERT INTO entries (folder_id, path, seq, deleted, size, mtime, blocks, modified_at, device) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (folder_id, path) DO UPDATE SET seq = excluded.seq, deleted = excluded.deleted, size = excluded.size,
         mtime = excluded.mtime, blocks = excluded.blocks, modified_at = excluded.modified_at, device = excluded.device`,
    );
  }

  apply(op: Operation, ctx: ApplyContext): OperationResult {
    const current = this.getEntry.get(ctx.folderId, op.path);
    const liveRevision = current && !current.deleted ? String(current.seq) : null;
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
    return op.action === 'upsert' ? this.upsert(op, current, ctx) : this.delete(op, current, ctx);
  }

  private upsert(op: UpsertOperation, current: EntryRow | undefined, ctx: ApplyContext): OperationResult {
    const missing = [...new Set(op.blocks.filter((h) => !ctx.blockSizes.has(h)))];
    if (missing.length > 0) {
      return { ok: false, code: 'missing_blocks', message: `${missing.length} block(s) are not on the server`, missing };
    }
    const total = op.blocks.reduce((sum, h) => sum + (ctx.blockSizes.get(h) ?? 0), 0);
    if (total !== op.size) {
      return { ok: false, code: 'invalid_request', message: `size ${op.size} does not match the ${total} bytes of its blocks` };
    }
    const blocks = JSON.stringify(op.blocks);
    if (current && !current.deleted && current.blocks === blocks && current.size === op.size && current.mtime === op.mtime) {
      return { ok: true, revision: String(current.seq) };
    }
    return { ok: true, revision: String(this.write(op.path, false, op.size, op.mtime, blocks, ctx)) };
  }

  private delete(op: DeleteOperation, current: EntryRow | undefined, ctx: ApplyContext): OperationResult {
    if (!current) return { ok: false, code: 'not_found', message: 'Path does not exist on the server' };
    if (current.deleted) return { ok: true, revision: String(current.seq) };
    return { ok: true, revision: String(this.write(op.path, true, 0, current.mtime, '[]', ctx)) };
  }

  private write(path: string, deleted: boolean, size: number, mtime: number, blocks: string, ctx: ApplyContext): number {
    const flag = deleted ? 1 : 0;
    const seq = Number(this.insertVersion.run(ctx.folderId, path, flag, size, mtime, blocks, ctx.now, ctx.device, ctx.taskId).lastInsertRowid);
    this.upsertEntry.run(ctx.folderId, path, seq, flag, size, mtime, blocks, ctx.now, ctx.device);
    return seq;
  }
}
