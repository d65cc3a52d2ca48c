import type { MoveOperation, OperationResult, SyncKind } from '../protocol';
import type { ApplyContext, EntryRow } from './apply';
import type { SqlDb } from './storage/sql';

const MOVED_COLUMNS = 'path, seq, kind, deleted, size, mtime, blocks, moved_from';

interface MovedRow extends EntryRow {
  path: string;
  moved_from: string | null;
}

/** Writes one new revision of a path (the applier's own write, so moves and edits share one log). */
export type WriteRevision = (
  path: string,
  kind: SyncKind,
  deleted: boolean,
  size: number,
  mtime: number,
  blocks: string,
  ctx: ApplyContext,
  movedFrom: string | null,
) => Promise<number>;

/**
 * `action: "move"` (docs/sync-api.md, "Moves"): a file, or a directory with every live entry
 * below it, changes path in the caller's transaction. Each old path gets a tombstone and each
 * new path a new revision with the same content that names its old path (`moved_from`), so a
 * client that ignores it still sees a delete and an upsert. A stale base or a live target is
 * a conflict: a move never replaces anything.
 */
export class MoveApplier {
  constructor(
    private readonly db: SqlDb,
    private readonly write: WriteRevision,
  ) {}

  async apply(op: MoveOperation, ctx: ApplyContext): Promise<OperationResult> {
    const source = await this.live(ctx.folderId, op.from);
    const target = await this.live(ctx.folderId, op.path);
    if (!source) {
      // Already moved (a retry under a new tracking id): the state asked for holds, and is
      // answered as the move was, `moved` included (without it the client took every entry
      // below the directory for one the server had not moved, and uploaded them all again).
      if (target && target.moved_from === op.from) {
        const revision = String(target.seq);
        return target.kind === 'dir' ? { ok: true, revision, moved: await this.movedBefore(ctx.folderId, op) } : { ok: true, revision };
      }
      return conflict(`Cannot move ${op.from}: it does not exist on the server`, null);
    }
    if (String(source.seq) !== op.baseRevision) {
      return conflict(`Path was changed on the server: base revision ${op.baseRevision}, current ${source.seq}`, String(source.seq));
    }
    if (target) return conflict(`Cannot move onto ${op.path}: it exists on the server`, String(target.seq));
    // Paths strictly below dir: '0' sorts right after '/'.
    const children =
      source.kind === 'dir'
        ? await this.db.all<MovedRow>(`SELECT ${MOVED_COLUMNS} FROM entries WHERE folder_id = ? AND path > ? AND path < ? AND deleted = 0 ORDER BY path`, [ctx.folderId, `${op.from}/`, `${op.from}0`])
        : [];
    const renamed = (p: string): string => op.path + p.slice(op.from.length);
    for (const child of children) {
      const taken = await this.live(ctx.folderId, renamed(child.path));
      if (taken) return conflict(`Cannot move onto ${renamed(child.path)}: it exists on the server`, String(taken.seq));
    }
    // New entries parents first, then tombstones children first: no live entry is ever left
    // below a deleted directory, even between two statements.
    const revision = await this.copy(source, op.path, ctx);
    // Each moved entry's old and new revision: the client rebases what it holds below the directory.
    const moved: Array<{ path: string; from: string; revision: string }> = [];
    for (const child of children) moved.push({ path: renamed(child.path), from: String(child.seq), revision: String(await this.copy(child, renamed(child.path), ctx)) });
    for (const old of [...children].reverse()) await this.tombstone(old, ctx);
    await this.tombstone(source, ctx);
    return source.kind === 'dir' ? { ok: true, revision: String(revision), moved } : { ok: true, revision: String(revision) };
  }

  /**
   * The `moved` list of a directory move already made: every entry below the target still
   * holding what the move put there (it names its old path), with the last live revision of
   * that old path. An entry written since is left out: it is not what the move carried.
   */
  private async movedBefore(folderId: string, op: MoveOperation): Promise<Array<{ path: string; from: string; revision: string }>> {
    const rows = await this.db.all<MovedRow>(`SELECT ${MOVED_COLUMNS} FROM entries WHERE folder_id = ? AND path > ? AND path < ? AND deleted = 0 ORDER BY path`, [folderId, `${op.path}/`, `${op.path}0`]);
    const moved: Array<{ path: string; from: string; revision: string }> = [];
    for (const row of rows) {
      const old = op.from + row.path.slice(op.path.length);
      if (row.moved_from !== old) continue;
      const before = await this.db.get<{ seq: number | null }>('SELECT max(seq) AS seq FROM versions WHERE folder_id = ? AND path = ? AND deleted = 0 AND seq < ?', [folderId, old, row.seq]);
      if (before?.seq != null) moved.push({ path: row.path, from: String(before.seq), revision: String(row.seq) });
    }
    return moved;
  }

  private async live(folderId: string, path: string): Promise<MovedRow | undefined> {
    const row = await this.db.get<MovedRow>(`SELECT ${MOVED_COLUMNS} FROM entries WHERE folder_id = ? AND path = ?`, [folderId, path]);
    return row && !row.deleted ? row : undefined;
  }

  private copy(row: MovedRow, to: string, ctx: ApplyContext): Promise<number> {
    return this.write(to, row.kind, false, row.size, row.mtime, row.blocks, ctx, row.path);
  }

  private async tombstone(row: MovedRow, ctx: ApplyContext): Promise<void> {
    await this.write(row.path, row.kind, true, 0, row.mtime, '[]', ctx, null);
  }
}

const conflict = (message: string, currentRevision: string | null): OperationResult => ({ ok: false, code: 'conflict', message, currentRevision });
