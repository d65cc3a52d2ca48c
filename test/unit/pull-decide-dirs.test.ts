import { describe, expect, it } from 'vitest';
import { decide, needsHash, type BaseState, type DecideInput, type LocalState, type RemoteState } from '../../main/engine/pull/decide';

// The directory rows of docs/conflict-rules.md (DU1-DU6, DD1-DD8), one test per row.
const R1 = '1';
const R2 = '2';
const dirUp = (revision = R2): RemoteState => ({ kind: 'dir', revision, deleted: false, size: 0, blocks: [] });
const dirDel = (revision: string | null = R2): RemoteState => ({ kind: 'dir', revision, deleted: true, size: 0, blocks: [] });
const dirBase = (over: Partial<BaseState> = {}): BaseState => ({ kind: 'dir', syncedRevision: R1, size: 0, mtimeMs: 1000, inode: 9, blocks: null, ...over });
const absent: LocalState = { type: 'absent' };
const emptyDir: LocalState = { type: 'dir', empty: true };
const fullDir: LocalState = { type: 'dir', empty: false };
const file: LocalState = { type: 'file', size: 3, mtimeMs: 1, inode: 2, blocks: null };
const link: LocalState = { type: 'other', what: 'symlink' };
/** The index row of `file` as last synced (its stat matches). */
const fileBase: BaseState = { kind: 'file', syncedRevision: R1, size: 3, mtimeMs: 1, inode: 2, blocks: ['a'.repeat(64)] };
const changedFile: LocalState = { ...file, mtimeMs: 2 };

const rule = (input: Partial<DecideInput> & Pick<DecideInput, 'remote'>) => {
  const a = decide({ base: undefined, local: absent, pending: null, ...input });
  return `${a.kind}/${a.rule}`;
};

describe('decide: remote directory upsert', () => {
  it('DU1 skips a revision already synced', () => {
    expect(rule({ remote: dirUp(R1), base: dirBase(), local: emptyDir })).toBe('skip/DU1');
    expect(rule({ remote: dirUp(R1), base: dirBase(), local: absent, pending: 'delete' })).toBe('skip/DU1');
  });
  it('DU2 creates a directory that is absent, also over a local delete of an older revision', () => {
    expect(rule({ remote: dirUp() })).toBe('create-dir/DU2');
    expect(rule({ remote: dirUp(), base: dirBase(), pending: 'delete' })).toBe('create-dir/DU2');
  });
  it('DU3 only records a directory that exists here', () => {
    expect(rule({ remote: dirUp(), local: fullDir })).toBe('record-only/DU3');
    expect(rule({ remote: dirUp(), local: emptyDir, pending: 'upsert' })).toBe('record-only/DU3');
  });
  // Chaos --kinds: another device turned the file into a folder; skipped as a type clash, the
  // change never reached this device.
  it('DU4 replaces a local file unchanged since its sync with the folder', () => {
    expect(rule({ remote: dirUp(), base: fileBase, local: file })).toBe('replace-with-dir/DU4');
  });
  it('DU6 keeps a changed or new local file as a conflict copy, and makes the folder', () => {
    expect(rule({ remote: dirUp(), base: fileBase, local: changedFile })).toBe('conflict-copy-then-dir/DU6');
    expect(rule({ remote: dirUp(), base: fileBase, local: file, pending: 'upsert', pendingBase: R1 })).toBe('conflict-copy-then-dir/DU6');
    expect(rule({ remote: dirUp(), local: file })).toBe('conflict-copy-then-dir/DU6');
  });
  it('DU5 leaves a symlink or special file alone', () => {
    expect(rule({ remote: dirUp(), local: link })).toBe('skip/DU5');
  });
  it('never asks for a hash for a directory item', () => {
    expect(needsHash({ remote: dirUp(), base: undefined, local: file, pending: null })).toBe(false);
  });
});

describe('decide: remote directory delete', () => {
  it('DD1 skips a revision already synced', () => {
    expect(rule({ remote: dirDel(R1), base: dirBase(), local: fullDir })).toBe('skip/DD1');
  });
  it('DD2 only records when the directory is gone here too', () => {
    expect(rule({ remote: dirDel(), base: dirBase() })).toBe('record-only/DD2');
    expect(rule({ remote: dirDel(null), base: dirBase(), pending: 'delete' })).toBe('record-only/DD2');
  });
  it('DD3 keeps and re-uploads a directory never synced here', () => {
    expect(rule({ remote: dirDel(), local: emptyDir })).toBe('reupload-local/DD3');
    expect(rule({ remote: dirDel(), base: dirBase({ syncedRevision: null }), local: emptyDir })).toBe('reupload-local/DD3');
  });
  it('DD4 removes a synced directory that is empty', () => {
    expect(rule({ remote: dirDel(), base: dirBase(), local: emptyDir })).toBe('delete-local/DD4');
    expect(rule({ remote: dirDel(null), base: dirBase(), local: emptyDir })).toBe('delete-local/DD4');
  });
  it('DD5 keeps a synced directory that still holds something, and re-uploads it', () => {
    expect(rule({ remote: dirDel(), base: dirBase(), local: fullDir })).toBe('reupload-local/DD5');
  });
  it('DD6 removes a file the server had, unchanged since its sync, as D4', () => {
    expect(rule({ remote: dirDel(), base: fileBase, local: file })).toBe('delete-local/DD6');
  });
  it('DD7 keeps a file the user made there (the folder turned into a file here), and uploads it as new', () => {
    expect(rule({ remote: dirDel(), base: dirBase(), local: file, pending: 'upsert', pendingBase: R1 })).toBe('reupload-local/DD7');
    expect(rule({ remote: dirDel(), base: fileBase, local: changedFile })).toBe('reupload-local/DD7');
  });
  it('DD8 leaves a symlink or special file alone', () => {
    expect(rule({ remote: dirDel(), base: dirBase(), local: link })).toBe('skip/DD8');
  });
  it('keeps the file rules for items without a kind (servers before directories)', () => {
    const legacy: RemoteState = { revision: R2, deleted: true, size: 0, blocks: [] };
    // A folder the server had (D8): removed only once empty, kept otherwise (DD5, when applied).
    expect(rule({ remote: legacy, base: dirBase(), local: fullDir })).toBe('delete-local/D8');
    expect(rule({ remote: legacy, base: dirBase({ syncedRevision: null }), local: fullDir })).toBe('reupload-local/D6');
  });
});
