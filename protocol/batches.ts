import { z } from 'zod';
import { BLOCK_SIZE, MAX_BATCH_OPERATIONS } from './constants';
import { ByteSize, MtimeMs, Revision, SyncKind, SyncPath } from './common';
import { Sha256Hex } from './hashes';
import { hasControlCharacter, hasLoneSurrogate } from './paths';

/**
 * Operation keys name their results in a JSON object, so a key is 1-256 characters of
 * well-formed Unicode without control characters, and never `__proto__`: a lone surrogate
 * would come back as U+FFFD (two keys answered under one), a control character would break
 * logs, and `__proto__` is no plain property in most JSON readers (docs/sync-api.md, "Batches").
 */
export function operationKeyProblem(key: string): string | null {
  if (key.length < 1 || key.length > 256) return 'must be 1-256 characters';
  if (hasLoneSurrogate(key)) return 'must be well-formed Unicode (no lone surrogate)';
  if (hasControlCharacter(key)) return 'must not contain control characters';
  if (key === '__proto__') return "must not be '__proto__'";
  return null;
}
export const OperationKey = z.string().check((ctx) => {
  const problem = operationKeyProblem(ctx.value);
  if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

export const UpsertOperation = z
  .strictObject({
    key: OperationKey,
    action: z.literal('upsert'),
    kind: SyncKind.optional(),
    path: SyncPath,
    size: ByteSize.optional(),
    mtime: MtimeMs,
    blocks: z.array(Sha256Hex).optional(),
    /** The revision the client last saw for this path; null for a new file or directory. */
    baseRevision: Revision.nullable(),
  })
  .superRefine((op, ctx) => {
    if (op.kind === 'dir') {
      if (op.size !== undefined && op.size !== 0) ctx.addIssue({ code: 'custom', path: ['size'], message: 'a directory has size 0' });
      if (op.blocks !== undefined && op.blocks.length > 0) ctx.addIssue({ code: 'custom', path: ['blocks'], message: 'a directory has no blocks' });
      return;
    }
    if (op.size === undefined) ctx.addIssue({ code: 'custom', path: ['size'], message: 'a file upsert needs a size' });
    if (op.blocks === undefined) ctx.addIssue({ code: 'custom', path: ['blocks'], message: 'a file upsert needs its blocks' });
    if (op.size === undefined || op.blocks === undefined) return;
    // Blocks hold at most BLOCK_SIZE bytes each and are never empty.
    if (op.size === 0 && op.blocks.length > 0) ctx.addIssue({ code: 'custom', path: ['blocks'], message: 'an empty file has no blocks' });
    if (op.size > 0 && op.blocks.length * BLOCK_SIZE < op.size) {
      ctx.addIssue({ code: 'custom', path: ['blocks'], message: `too few blocks for ${op.size} bytes` });
    }
    if (op.blocks.length > op.size) ctx.addIssue({ code: 'custom', path: ['blocks'], message: `too many blocks for ${op.size} bytes` });
  })
  .transform((op) => ({ ...op, kind: op.kind ?? ('file' as const), size: op.size ?? 0, blocks: op.blocks ?? [] }));
export type UpsertOperation = z.infer<typeof UpsertOperation>;

/** Deletes whatever the path names, file or directory (see docs/sync-api.md for non-empty directories). */
export const DeleteOperation = z.strictObject({
  key: OperationKey,
  action: z.literal('delete'),
  path: SyncPath,
  baseRevision: Revision.nullable(),
});
export type DeleteOperation = z.infer<typeof DeleteOperation>;

// ── restore (docs/sync-api.md, "History and restore") ──

/**
 * A new revision of `path` with the content of an earlier `revision` of it, or of `from` (a deleted path
 * comes back, a live one gets the old bytes). No block travels: the server holds them.
 * `baseRevision` is checked as for an upsert. With `onlyIfDeleted` a path that is live is
 * refused (`not_deleted`) instead of getting the old content over its current one.
 */
export const RestoreOperation = z.strictObject({
  key: OperationKey,
  action: z.literal('restore'),
  path: SyncPath,
  revision: Revision,
  /** The path `revision` is of, when not `path`: a file renamed since gets its old content under its new name. */
  from: SyncPath.optional(),
  baseRevision: Revision.nullable(),
  onlyIfDeleted: z.boolean().optional(),
});
export type RestoreOperation = z.infer<typeof RestoreOperation>;


// ── moves (docs/sync-api.md, "Moves") ────────────────────────────────────────
/**
 * Moves a file, or a directory with its whole subtree, from `from` to `path` in one
 * transaction. `baseRevision` is the revision of `from`; the target must be free.
 */
export const MoveOperation = z
  .strictObject({
    key: OperationKey,
    action: z.literal('move'),
    from: SyncPath,
    path: SyncPath,
    /** What the client moves; a `from` of the other kind on the server is a conflict (docs/sync-api.md, "Moves"). */
    kind: SyncKind.optional(),
    baseRevision: Revision,
  })
  .superRefine((op, ctx) => {
    if (op.from === op.path) ctx.addIssue({ code: 'custom', path: ['path'], message: 'a move needs a new path' });
    else if (op.path.startsWith(`${op.from}/`)) ctx.addIssue({ code: 'custom', path: ['path'], message: 'a directory cannot move inside itself' });
  });
export type MoveOperation = z.infer<typeof MoveOperation>;
/** The paths an operation touches: a move touches its source too. */
export const operationPaths = (op: { path: string; from?: string }): string[] => (op.from !== undefined ? [op.from, op.path] : [op.path]);

export const Operation = z.discriminatedUnion('action', [UpsertOperation, DeleteOperation, RestoreOperation, MoveOperation]);
export type Operation = z.infer<typeof Operation>;
/** What a caller builds (paths before NFC normalisation); the same shape on the wire. */
export type OperationInput = z.input<typeof Operation>;

export const BatchRequest = z
  .strictObject({
    operations: z.array(Operation).min(1).max(MAX_BATCH_OPERATIONS),
  })
  .superRefine((batch, ctx) => {
    // Keys address results and one batch must not say two things about one path.
    const keys = new Set<string>();
    const paths = new Set<string>();
    batch.operations.forEach((op, i) => {
      if (keys.has(op.key)) ctx.addIssue({ code: 'custom', path: ['operations', i, 'key'], message: `duplicate key '${op.key}'` });
      for (const p of operationPaths(op)) {
        if (paths.has(p)) ctx.addIssue({ code: 'custom', path: ['operations', i, 'path'], message: 'duplicate path in one batch' });
        paths.add(p);
      }
      keys.add(op.key);
    });
  });
export type BatchRequest = z.infer<typeof BatchRequest>;

export const BatchMode = z.enum(['sync', 'async']);
export type BatchMode = z.infer<typeof BatchMode>;
export const BatchQuery = z.strictObject({ mode: BatchMode.default('sync') });

/** One entry a directory move took along: its new path, the revision it had at its old path and its new revision. */
export const MovedEntry = z.object({ path: z.string().min(1), from: Revision, revision: Revision });
export type MovedEntry = z.infer<typeof MovedEntry>;
export const OperationSuccess = z.object({
  ok: z.literal(true),
  revision: Revision,
  /** A directory move only: every entry below it that moved (docs/sync-api.md, "Moves"); a client may ignore it. */
  moved: z.array(MovedEntry).optional(),
});
export const OperationFailure = z.object({
  ok: z.literal(false),
  /**
   * conflict (also: a kind change, a non-empty directory, a move onto a live path) | missing_blocks | not_found | invalid_request | aborted;
   * restore only: unknown_revision | blocks_collected | not_deleted
   */
  code: z.string().min(1),
  message: z.string(),
  /** With `conflict`: the path's current revision, null when it does not exist (or is deleted). */
  currentRevision: Revision.nullable().optional(),
  /** With `missing_blocks`: the hashes the server lacks. */
  missing: z.array(Sha256Hex).optional(),
});
export const OperationResult = z.discriminatedUnion('ok', [OperationSuccess, OperationFailure]);
export type OperationResult = z.infer<typeof OperationResult>;
export type OperationFailure = z.infer<typeof OperationFailure>;

export const BatchResults = z.record(OperationKey, OperationResult);
export type BatchResults = z.infer<typeof BatchResults>;
