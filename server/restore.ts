import type { Operation, OperationResult, RestoreOperation, SyncKind, UpsertOperation } from '../protocol';
import type { SqlDb } from './storage/sql';

interface VersionRow {
  kind: SyncKind;
  deleted: number;
  size: number;
  mtime: number;
  blocks: string;
}

/** What a restore becomes: the old content as an upsert, or a failure that changes nothing. */
export type ResolvedRestore = { upsert: UpsertOperation } | { failure: OperationResult };

/**
 * Restore operations (docs/sync-api.md, "History and restore"). A restore is an upsert of the
 * content an earlier revision of the same path had (or of `from`, its name before a rename), so it follows the upsert's conflict rule
 * exactly; what is particular to it is refused here first, each with its own code.
 */
export class RestoreResolver {
  constructor(private readonly db: SqlDb) {}

  private async version(folderId: string, path: string, revision: string): Promise<VersionRow | undefined> {
    // A revision past what a seq can be names none: Number() would round it onto another one.
    const seq = Number(revision);
    if (!Number.isSafeInteger(seq)) return undefined;
    return this.db.get<VersionRow>('SELECT kind, deleted, size, mtime, blocks FROM versions WHERE folder_id = ? AND path = ? AND seq = ?', [folderId, path, seq]);
  }

  /** The blocks a restore needs, so the task can look their sizes up before its transaction. */
  async blocksOf(folderId: string, op: RestoreOperation): Promise<string[]> {
    const row = await this.version(folderId, op.from ?? op.path, op.revision);
    return row && !row.deleted ? (JSON.parse(row.blocks) as string[]) : [];
  }

  async resolve(op: RestoreOperation, folderId: string, blockSizes: ReadonlyMap<string, number>): Promise<ResolvedRestore> {
    const fail = (code: string, message: string, extra: Partial<OperationResult> = {}): ResolvedRestore => ({ failure: { ok: false, code, message, ...extra } as OperationResult });
    // `from`: a revision of the path's old name (renamed since); the content comes back under `path`.
    const source = op.from ?? op.path;
    const row = await this.version(folderId, source, op.revision);
    if (!row) return fail('unknown_revision', `Revision ${op.revision} of ${source} does not exist on the server (never, or no longer retained)`);
    if (row.deleted) return fail('unknown_revision', `Revision ${op.revision} of ${source} is a deletion: there is no content to restore`);
    if (op.onlyIfDeleted) {
      const current = await this.db.get<{ seq: number; deleted: number }>('SELECT seq, deleted FROM entries WHERE folder_id = ? AND path = ?', [folderId, op.path]);
      if (current && !current.deleted) return fail('not_deleted', `${op.path} is not deleted on the server`, { currentRevision: String(current.seq) });
    }
    const blocks = JSON.parse(row.blocks) as string[];
    const gone = [...new Set(blocks.filter((h) => !blockSizes.has(h)))];
    if (gone.length > 0) return fail('blocks_collected', `${gone.length} block(s) of revision ${op.revision} are no longer on the server`, { missing: gone });
    return {
      upsert: { key: op.key, action: 'upsert', kind: row.kind, path: op.path, size: row.size, mtime: row.mtime, blocks, baseRevision: op.baseRevision },
    };
  }
}

/** Every block a batch refers to: an upsert's own, a restore's from the revision it names. */
export async function blocksReferenced(resolver: RestoreResolver, folderId: string, operations: readonly Operation[]): Promise<string[]> {
  const out: string[] = [];
  for (const op of operations) {
    const blocks = op.action === 'upsert' ? op.blocks : op.action === 'restore' ? await resolver.blocksOf(folderId, op) : [];
    for (const h of blocks) out.push(h);
  }
  return out;
}
