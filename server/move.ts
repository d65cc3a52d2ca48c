import type { MoveOperation, OperationResult, SyncKind } from '../protocol';
import type { ApplyContext, EntryRow } from './apply';
import { ENTRY_COLUMNS, ENTRY_UPSERT, underBounds, type SqlDb } from './storage/sql';

const MOVED_COLUMNS = 'path, seq, kind, deleted, size, mtime, blocks, moved_from';

/** `col` with the prefix `from` replaced by `to` (parameters: to, from). Lengths count characters in both engines. */
const RENAMED = (col: string): string => `CAST(? AS TEXT) || substr(${col}, length(CAST(? AS TEXT)) + 1)`;
/** A path and everything strictly below it (parameters: dir, then underBounds(dir)). */
const SUBTREE = '(path = ? OR (path > ? AND path < ?))';

/**
 * Nothing lives below a file (docs/sync-api.md, "Nothing lives below a file"): a path with a live
 * file above it is refused, as a conflict naming no revision.
 */
export async function fileAbove(db: SqlDb, folderId: string, path: string): Promise<OperationResult | null> {
  const above: string[] = [];
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) above.push(path.slice(0, i));
  if (above.length === 0) return null;
  const file = await db.get<{ path: string }>(
    `SELECT path FROM entries WHERE folder_id = ? AND path IN (${above.map(() => '?').join(', ')}) AND deleted = 0 AND kind = 'file' LIMIT 1`,
    [folderId, ...above],
  );
  return file ? { ok: false, code: 'conflict', message: `Cannot put ${path} below ${file.path}: it is a file on the server`, currentRevision: null } : null;
}

/**
 * A file may not take a path with live entries below it (docs/sync-api.md, "Nor is a file put
 * where entries live below"), whether or not a directory entry names that folder: a path
 * implies its parents. `current`: the live entry at the path, whose revision the conflict names.
 */
export async function entriesBelow(db: SqlDb, folderId: string, path: string, current: string | null): Promise<OperationResult | null> {
  const child = await firstLiveBelow(db, folderId, path);
  return child ? { ok: false, code: 'conflict', message: `Cannot put the file ${path} there: the server holds ${child} below it`, currentRevision: current } : null;
}

/** The first live path strictly below `path`, or undefined. */
export async function firstLiveBelow(db: SqlDb, folderId: string, path: string): Promise<string | undefined> {
  return (await db.get<{ path: string }>('SELECT path FROM entries WHERE folder_id = ? AND path > ? AND path < ? AND deleted = 0 LIMIT 1', [folderId, ...underBounds(path)]))?.path;
}

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
    // A file that replaced a folder on the client is held there on the folder's revision until
    // it goes: its move must not take the folder along (docs/conflict-rules.md, P11).
    if (op.kind !== undefined && op.kind !== source.kind) return conflict(`Cannot move ${op.from} as a ${op.kind === 'dir' ? 'folder' : 'file'}: it is a ${source.kind === 'dir' ? 'folder' : 'file'} on the server`, String(source.seq));
    if (target) return conflict(`Cannot move onto ${op.path}: it exists on the server`, String(target.seq));
    const below = await fileAbove(this.db, ctx.folderId, op.path);
    if (below) return below;
    if (source.kind !== 'dir') {
      const held = await entriesBelow(this.db, ctx.folderId, op.path, null);
      if (held) return held;
      const revision = await this.copy(source, op.path, ctx);
      await this.tombstone(source, ctx);
      return { ok: true, revision: String(revision) };
    }
    return this.moveDir(op, ctx);
  }

  /**
   * A directory with its subtree, set-based (a handful of statements, however many entries:
   * issue 16). The same revisions, in the same order, as one write per entry would make.
   */
  private async moveDir(op: MoveOperation, ctx: ApplyContext): Promise<OperationResult> {
    const { folderId } = ctx;
    const [lo, hi] = underBounds(op.from);
    // What moves: the directory and every live entry below it, with the revisions they had.
    const before = await this.db.all<{ path: string; seq: number }>(`SELECT path, seq FROM entries WHERE folder_id = ? AND ${SUBTREE} AND deleted = 0 ORDER BY path`, [folderId, op.from, lo, hi]);
    const renamed = (p: string): string => op.path + p.slice(op.from.length);
    // A live path the subtree would take: the first in the subtree's order, as a conflict. Two
    // range scans compared here, not a join: a planner without statistics (PostgreSQL on a
    // fresh table) joined the two sides row by row, 10,000 × 10,000.
    const atTarget = new Map(
      (await this.db.all<{ path: string; seq: number }>('SELECT path, seq FROM entries WHERE folder_id = ? AND path > ? AND path < ? AND deleted = 0', [folderId, ...underBounds(op.path)])).map((r) => [r.path, r.seq]),
    );
    for (const child of before) {
      const seq = child.path === op.from ? undefined : atTarget.get(renamed(child.path));
      if (seq !== undefined) return conflict(`Cannot move onto ${renamed(child.path)}: it exists on the server`, String(seq));
    }
    const oldest = before.reduce((max, r) => Math.max(max, Number(r.seq)), 0);
    // New entries parents first (path order), then tombstones children first (reverse path
    // order, the directory last): no live entry is ever left below a deleted directory.
    const written = await this.db.all<{ seq: number; path: string }>(
      `INSERT INTO versions (folder_id, path, kind, deleted, size, mtime, blocks, modified_at, device, task_id, moved_from)
       SELECT folder_id, ${RENAMED('path')}, kind, 0, size, mtime, blocks, CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), path
       FROM entries WHERE folder_id = ? AND ${SUBTREE} AND deleted = 0 ORDER BY path RETURNING seq, path`,
      [op.path, op.from, ctx.now, ctx.device, ctx.taskId, folderId, op.from, lo, hi],
    );
    await this.settle(folderId, written);
    // Only what was there before the move (a directory moved to a path above itself may have
    // just written entries inside its old subtree: those stay).
    const tombstones = await this.db.all<{ seq: number; path: string }>(
      `INSERT INTO versions (folder_id, path, kind, deleted, size, mtime, blocks, modified_at, device, task_id, moved_from)
       SELECT folder_id, path, kind, 1, 0, mtime, '[]', CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), NULL
       FROM entries WHERE folder_id = ? AND ${SUBTREE} AND deleted = 0 AND seq <= ? ORDER BY path DESC RETURNING seq, path`,
      [ctx.now, ctx.device, ctx.taskId, folderId, op.from, lo, hi, oldest],
    );
    await this.settle(folderId, tombstones);
    const newSeq = new Map(written.map((r) => [r.path, String(r.seq)]));
    // Each moved entry's old and new revision: the client rebases what it holds below the directory.
    const moved = before.filter((r) => r.path !== op.from).map((r) => ({ path: renamed(r.path), from: String(r.seq), revision: newSeq.get(renamed(r.path))! }));
    return { ok: true, revision: newSeq.get(op.path)!, moved };
  }

  /** The entries take the versions just written (seq lo..hi of this folder: the folder is this transaction's). */
  private async settle(folderId: string, rows: ReadonlyArray<{ seq: number }>): Promise<void> {
    if (rows.length === 0) return;
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of rows) {
      lo = Math.min(lo, Number(r.seq));
      hi = Math.max(hi, Number(r.seq));
    }
    await this.db.run(
      `INSERT INTO entries (${ENTRY_COLUMNS}) SELECT ${ENTRY_COLUMNS} FROM versions
       WHERE seq >= ? AND seq <= ? AND folder_id = ?
       ${ENTRY_UPSERT}`,
      [lo, hi, folderId],
    );
  }

  /**
   * The `moved` list of a directory move already made: every entry below the target still
   * holding what the move put there (it names its old path), with the last live revision of
   * that old path. An entry written since is left out: it is not what the move carried.
   */
  private async movedBefore(folderId: string, op: MoveOperation): Promise<Array<{ path: string; from: string; revision: string }>> {
    // Two range scans (the target's entries, the source's live versions), matched here.
    const rows = await this.db.all<{ path: string; seq: number; moved_from: string | null }>(
      'SELECT path, seq, moved_from FROM entries WHERE folder_id = ? AND path > ? AND path < ? AND deleted = 0 ORDER BY path',
      [folderId, ...underBounds(op.path)],
    );
    const versions = new Map<string, number[]>();
    for (const v of await this.db.all<{ path: string; seq: number }>('SELECT path, seq FROM versions WHERE folder_id = ? AND path > ? AND path < ? AND deleted = 0', [folderId, ...underBounds(op.from)])) {
      const list = versions.get(v.path) ?? [];
      list.push(Number(v.seq));
      versions.set(v.path, list);
    }
    const moved: Array<{ path: string; from: string; revision: string }> = [];
    for (const row of rows) {
      const old = op.from + row.path.slice(op.path.length);
      if (row.moved_from !== old) continue;
      const earlier = (versions.get(old) ?? []).filter((seq) => seq < Number(row.seq));
      if (earlier.length > 0) moved.push({ path: row.path, from: String(Math.max(...earlier)), revision: String(row.seq) });
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
