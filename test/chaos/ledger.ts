import path from 'node:path';

/**
 * What the users did, as the invariants need it: every version a user wrote that no user
 * knowingly replaced since (invariant 2), and which paths two devices wrote without one
 * having seen the other's version (invariant 3). Paths are keyed in NFC, as the server keys them.
 */
export const EMPTY_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface Version {
  device: string;
  path: string;
  hash: string;
  step: number;
  /** The user edited bytes that were there (false: a new file). Only an edit can follow another device's move (M2). */
  edited?: boolean;
}

const CONFLICT_GROUP = / \(conflict from [^()]* \d{4}-\d{2}-\d{2} \d{6}(?: \d+)?\)/g;

export const nfc = (p: string): string => p.normalize('NFC');
export const isConflictName = (p: string): boolean => new RegExp(CONFLICT_GROUP.source).test(path.posix.basename(p));

/** The path a conflict copy was made from ("a/x (conflict from B 2030-01-01 120000).txt" → "a/x.txt"). */
export function conflictOrigin(p: string): string {
  const dir = path.posix.dirname(p);
  const base = path.posix.basename(p).replace(CONFLICT_GROUP, '');
  return dir === '.' ? base : `${dir}/${base}`;
}

/** `p` with every name's conflict mark taken out: where it was before copies of it and of folders above it (U9). */
export const withoutConflictMarks = (p: string): string =>
  p
    .split('/')
    .map((name) => name.replace(CONFLICT_GROUP, ''))
    .join('/');

export const isConflictCopyOf = (original: string, candidate: string): boolean =>
  candidate !== original && isConflictName(candidate) && conflictOrigin(candidate) === original;

/**
 * `candidate` is `original` kept in a conflict copy: of the file itself, or of a folder above it
 * (a folder kept where another device put a file, docs/conflict-rules.md U9), or both.
 */
export function keptAsCopyOf(original: string, candidate: string): boolean {
  if (candidate === original) return false;
  const parts = candidate.split('/');
  const plain = parts.map((s) => s.replace(CONFLICT_GROUP, ''));
  if (plain.join('/') === original) return true;
  return parts.some((s, i) => plain[i] !== s && [...parts.slice(0, i), plain[i], ...parts.slice(i + 1)].join('/') === original);
}

export class Ledger {
  /** Versions written by users and not knowingly replaced (by any user) since. */
  readonly live: Version[] = [];
  /** NFC paths two devices wrote (or deleted) concurrently. */
  readonly concurrent = new Set<string>();
  /**
   * Folders users renamed, in order. The server moves a folder with whatever it holds below it,
   * another device's version that reached it first included: that version follows the folder
   * (docs/conflict-rules.md, "Pushing a move", P9), so it counts at the renamed path too.
   */
  readonly dirMoves: Array<{ device: string; from: string; to: string; step: number }> = [];
  /** Paths users turned from a file into a folder or back (chaos --kinds), by device. */
  private readonly kindChanges: Array<{ device: string; path: string }> = [];
  /** NFC path → every device whose user did anything there (wrote, deleted, renamed, made, changed its kind). */
  private readonly touchedBy = new Map<string, Set<string>>();
  /** Folders the users made (mkdir), by device. */
  private readonly dirsMade: Array<{ device: string; path: string }> = [];
  /** Files users renamed: an edit made elsewhere of the old name follows the file (M2). */
  readonly fileMoves: Array<{ device: string; from: string; to: string }> = [];
  /** Conflict copies a user moved (with their folder): they are not new conflicts. */
  readonly movedCopies = new Set<string>();
  /**
   * Folders (NFC; null: the whole synced folder) a user restored deleted files under. The
   * server brings them back beside whatever a device wrote there and has not sent yet, so a
   * conflict copy of a path there is no spurious one (chaos --restore).
   */
  private readonly restoredUnder: Array<string | null> = [];
  /** The last user op per path: the bytes it left (null: none) and, for a delete, the bytes it removed. */
  private readonly lastOp = new Map<string, { device: string; hash: string | null; removed?: string | null; movedBack?: boolean }>();
  /** device\0path\0hash: bytes a device had on disk at a path (written there, or found there by a user op). */
  private readonly had = new Set<string>();
  /** device\0path → what its disk held there before its last two writes (the earlier first). */
  private readonly befores = new Map<string, Array<string | null>>();
  /** path\0hash: bytes at a path that another device had on disk (so they went through the server). */
  private readonly seenElsewhere = new Set<string>();
  /** path\0hash → every device that ever wrote those bytes there, live or since replaced. */
  private readonly writers = new Map<string, Set<string>>();
  /** device\0path → the last bytes there that came to the device from another one (its synced bytes, as far as the ledger can tell). */
  private readonly lastFromElsewhere = new Map<string, string>();
  /** path\0hash → the devices that wrote a new version over those bytes there (built on them). */
  private readonly builtOn = new Map<string, Set<string>>();
  /** device\0path → the bytes the device's user deleted there last, until it writes there again. */
  private readonly deletedHere = new Map<string, string>();
  /** Writes that put back the device's synced bytes (see write()): not versions of their own. */
  reverts = 0;
  /** Writes of bytes another device already had at the path and built on (see write()). */
  sameAsBuiltOn = 0;
  /** Total user writes recorded. */
  writes = 0;

  /**
   * The user of `device` replaces (overwrites, deletes, renames away) what it sees at `p`:
   * `before` is the hash on its disk right before (null: nothing there).
   */
  replace(device: string, p: string, before: string | null): void {
    const key = nfc(p);
    this.touch(device, key);
    const mine = `${device}\u0000${key}`;
    this.befores.set(mine, [...(this.befores.get(mine) ?? []), before].slice(-2));
    // Any other writer of these bytes at this path, even one whose version was replaced since:
    // the writer's own next write may be recorded first (the devices of a burst run at once),
    // and these bytes still came here through the server (chaos seed 453).
    const writers = before === null ? undefined : this.writers.get(`${key}\u0000${before}`);
    if (before !== null && writers && [...writers].some((d) => d !== device)) {
      this.seenElsewhere.add(`${key}\u0000${before}`);
      this.lastFromElsewhere.set(mine, before);
    }
    if (before !== null) this.had.add(`${mine}\u0000${before}`);
    const last = this.lastOp.get(key);
    if (last && last.device !== device && last.hash !== before) this.concurrent.add(key);
    // Nothing here, the last op another device's delete of bytes this device never had: its
    // version went to the server before that delete did, and this new file meets it there
    // first (docs/conflict-rules.md, after U8: a copy, not spurious; chaos seed 1016). The
    // ledger cannot tell whether this device's pull saw the delete already, so it allows it.
    else if (last && last.device !== device && before === null && last.removed && !this.had.has(`${mine}\u0000${last.removed}`)) this.concurrent.add(key);
    // Nothing here, yet another device's folder rename carried a version to this path (the server
    // moves a folder with what it holds, even a file the renaming device never had, P9): this new
    // file meets it there, unseen (docs/conflict-rules.md, "What a move racing an edit…"; chaos
    // seed 16019).
    else if (before === null && this.carriedHere(device, key)) this.concurrent.add(key);
    // The bytes here came back by another device's rename (a file renamed away and back): this
    // device's edit may build on the revision before the rename, which the server no longer
    // holds at the path, and meet the rename there: a copy, not spurious (docs/conflict-rules.md,
    // "What a move racing an edit…"; chaos seed 60282). The ledger cannot tell which revision
    // the edit built on (the bytes are the same), so it allows it.
    else if (before !== null && last?.movedBack === true && last.device !== device && last.hash === before) this.concurrent.add(key);
    if (before !== null) this.forget(device, key, before);
  }

  /**
   * Whether a live version reached `key` from another name through a folder rename: another
   * device's, or this device's own when the version is another device's that this one never had
   * (it reached the server before the rename did, and went with the folder there: P9; chaos seed
   * 8844 with --gc).
   */
  private carriedHere(device: string, key: string): boolean {
    const movers = this.dirMoves.filter((m) => key.startsWith(`${m.to}/`));
    if (movers.length === 0) return false;
    const byOther = movers.some((m) => m.device !== device);
    return this.live.some(
      (v) => v.path !== key && this.pathsOf(v).has(key) && (byOther || (v.device !== device && !this.had.has(`${device}\u0000${nfc(v.path)}\u0000${v.hash}`))),
    );
  }

  /** `device`'s user replaced bytes `before` at `key`: the versions of them there (and where they followed) go. */
  private forget(device: string, key: string, before: string): void {
    const followed = namesReached(key, (q) => this.fileMoves.filter((m) => m.from === q && m.device !== device).map((m) => m.to));
    for (let i = this.live.length - 1; i >= 0; i--) {
      const v = this.live[i]!;
      if (v.hash !== before) continue;
      // Identical empty files are everywhere: only the one at this path (or its copies, or one a
      // folder rename carried here: chaos seed 8231 with --gc; or a copy of it carried there:
      // chaos seed 11103; or the one another device renamed this file to, which this edit
      // follows, M2: chaos seed 11278) goes.
      if (before === EMPTY_HASH && ![...this.pathsOf(v)].some((n) => followed.has(n) || keptAsCopyOf(n, key))) continue;
      this.live.splice(i, 1);
    }
  }

  /** `edit`: the bytes are an edit whatever was at `p` before (a rename carried this device's edit here). */
  write(device: string, p: string, hash: string, step: number, edit = false): void {
    const key = nfc(p);
    this.touch(device, key);
    this.writes++;
    // Written below a path another device turned into the other kind (chaos --kinds): the two met
    // at that path unseen, and the one whose change the server refused keeps it as a copy (DU6, U9).
    for (const k of this.kindChanges) if (k.device !== device && key.startsWith(`${k.path}/`)) this.concurrent.add(k.path);
    // A file written where another device made a folder, or put something in one: a file and a
    // folder met at this path unseen (a write into a folder this device had fails), and the one
    // the server refused is kept as a copy (DU6; chaos --kinds seed 60135).
    const folderThere = (q: string) => q === key || q.startsWith(`${key}/`);
    if (this.dirsMade.some((d) => d.device !== device && folderThere(d.path)) || this.live.some((v) => v.device !== device && nfc(v.path).startsWith(`${key}/`))) {
      this.concurrent.add(key);
    }
    // The other way round: written below a path where another device has a file this device
    // never had. The folder made for it and that file met there unseen, and the one the server
    // refused is kept as a copy (DU6; chaos --kinds seed 60261).
    this.fileAbove(device, key);
    const mine = `${device}\u0000${key}`;
    this.had.add(`${mine}\u0000${hash}`);
    // A file made anew where this device's user deleted bytes R, before the delete went out, is
    // one upload on R's revision: an edit of R, which follows another device's rename of R and
    // replaces it there (docs/conflict-rules.md, "What a move racing an edit…"; chaos seed 1054).
    // The ledger cannot tell whether the delete went out first, so it allows it.
    const reCreated = this.deletedHere.get(mine);
    this.deletedHere.delete(mine);
    if (reCreated !== undefined) this.forget(device, key, reCreated);
    // H → X → H on one device, H being bytes the server had there: the user undid their own
    // edit back to the synced version. Three-way, that side did not change, and the other
    // side's concurrent edit rightly replaces it (chaos seed 23: an empty file, emptied again).
    // Also H → X → Y → … → H: back to the last bytes that came from elsewhere, after edits of
    // its own only (chaos seed 1038: an empty file, edited twice, emptied again).
    const [earlier, last] = this.befores.get(mine) ?? [];
    const fromElsewhere = this.lastFromElsewhere.get(mine) === hash;
    // Back to H over X counts only when X was this device's own edit: X from elsewhere is the
    // synced version, and writing H over it is an edit built on it (chaos seed 19545: a's empty
    // file over c's appended bytes, which c then renamed; the edit followed the rename, M2).
    const backTo = (earlier === hash && this.lastFromElsewhere.get(mine) !== last) || fromElsewhere;
    // Also H → H: the synced bytes written again, no change three-way (chaos seed 10549).
    if (((backTo && last !== hash) || (last === hash && fromElsewhere)) && this.seenElsewhere.has(`${key}\u0000${hash}`)) {
      this.reverts++;
      this.lastOp.set(key, { device, hash });
      return;
    }
    const over = this.befores.get(mine)?.at(-1) ?? reCreated; // what this write replaced
    if (over) this.builtOn.set(`${key}\u0000${over}`, new Set([...(this.builtOn.get(`${key}\u0000${over}`) ?? []), device]));
    // A new file here (this device never had bytes from elsewhere at the path, so its upload
    // names no base) with bytes another device had here and wrote a new version over: on the
    // server they are one revision (same content), and that device's version may be built on
    // it whichever came first (docs/conflict-rules.md, "same content"; chaos seed 3018: two
    // empty files). Here includes the path's names before folder renames: the server moved
    // those bytes with the folder (chaos seed 18488: an empty file carried from a/ to
    // Ärger/photos/, where the renaming device's edit was built on it and another device wrote
    // a new empty file). An edit of a synced version is a version of its own, checked as ever.
    const isNew = !this.lastFromElsewhere.has(mine);
    const builtOnByOther = (q: string) => [...(this.builtOn.get(`${q}\u0000${hash}`) ?? [])].some((d) => d !== device);
    if (isNew && [...this.earlierNamesOf(key)].some(builtOnByOther)) {
      this.sameAsBuiltOn++;
      this.lastOp.set(key, { device, hash });
      return;
    }
    this.writers.set(`${key}\u0000${hash}`, new Set([...(this.writers.get(`${key}\u0000${hash}`) ?? []), device]));
    this.live.push({ device, path: key, hash, step, edited: edit || (over !== undefined && over !== null) });
    this.lastOp.set(key, { device, hash });
    if (isConflictName(key)) this.movedCopies.add(key);
  }

  /**
   * The user of `device` renamed the file `from` to `to` with bytes `hash`. When another device
   * had already written a new version over those bytes at `from` (it edited them), that edit
   * follows the moved file (docs/conflict-rules.md, M2): the moved bytes at `to` are the base
   * of that edit, not a version of their own that must survive it (chaos seed 5022: an empty
   * file renamed by one device while the other edited it, then deleted with its edit).
   */
  movedFile(device: string, from: string, to: string, hash: string, step: number): void {
    this.touch(device, nfc(from));
    this.touch(device, nfc(to));
    // An edit made under a name `from` had before a rename (M2: it followed that rename) is built
    // on these bytes too (chaos seed 11611).
    const earlier = namesReached(nfc(from), (q) => this.fileMoves.filter((m) => m.to === q).map((m) => m.from));
    this.fileMoves.push({ device, from: nfc(from), to: nfc(to) });
    // Bytes a user wrote at `to` before: the rename brings them back there (see replace()).
    const back = this.writers.has(`${nfc(to)}\u0000${hash}`);
    // This device's own edit at `from`, renamed before the scan saw it: it goes up as the move of
    // what was synced, then the edit (P2), and the edit follows another device's rename of `to`
    // as any edit does (M2; chaos seed 40381: c's emptied a.tar.gz renamed to café.txt, b's rename
    // of café.txt to CAFÉ.TXT, made before c's edit reached it, took the edit along).
    const [before, moved] = this.befores.get(`${device}\u0000${nfc(from)}`) ?? [];
    const edit = moved === hash && before !== undefined && before !== null && before !== hash && (this.writers.get(`${nfc(from)}\u0000${hash}`)?.has(device) ?? false);
    this.placeMoved(device, from, to, hash, step, earlier, edit);
    const op = this.lastOp.get(nfc(to));
    if (back && op?.device === device && op.hash === hash) this.lastOp.set(nfc(to), { ...op, movedBack: true });
  }

  /** The moved bytes at `to`: a version of their own, or the base of an edit made elsewhere. */
  private placeMoved(device: string, from: string, to: string, hash: string, step: number, earlier: Set<string>, edit: boolean): void {
    const editedElsewhere = [...earlier].some((name) => [...(this.builtOn.get(`${name}\u0000${hash}`) ?? [])].some((d) => d !== device));
    // An empty file no user wrote at `from`: a file caught being written, pulled here (docs/
    // conflict-rules.md, "caught being written"; chaos seed 10605). Renaming it carries no version.
    const caughtBeingWritten = hash === EMPTY_HASH && !this.writers.has(`${nfc(from)}\u0000${hash}`);
    if (editedElsewhere || caughtBeingWritten) {
      if (isConflictName(to)) this.movedCopies.add(nfc(to));
      this.sameAsBuiltOn++;
      this.lastOp.set(nfc(to), { device, hash });
      return;
    }
    this.write(device, to, hash, step, edit);
  }

  /**
   * The user of `device` turned `p` into the other kind (a file into a folder, or back). Another
   * device's version below it may meet it unseen, as a later write below it may (see write()).
   */
  /**
   * Whether a user turned `p`, a folder above it or a path below it into the other kind, and a
   * user of another device did anything at or near that path or `p`: then the two met there in
   * more ways than the ledger follows. A kind change no other device came near has no other side,
   * so a copy there is spurious as anywhere else.
   */
  kindChangeMetOther(p: string): boolean {
    const key = nfc(p);
    return this.kindChanges.some(
      (k) => near(k.path, key) && [...this.touchedBy].some(([q, devices]) => (near(q, k.path) || near(q, key)) && [...devices].some((d) => d !== k.device)),
    );
  }

  /** Whether a user of a device other than `device` did anything at, above or below `p`. */
  touchedByOther(p: string, device: string): boolean {
    const key = nfc(p);
    return [...this.touchedBy].some(([q, devices]) => near(q, key) && [...devices].some((d) => d !== device));
  }

  private touch(device: string, key: string): void {
    const devices = this.touchedBy.get(key);
    if (devices) devices.add(device);
    else this.touchedBy.set(key, new Set([device]));
  }

  kindChanged(device: string, p: string, was: 'file' | 'dir'): void {
    const key = nfc(p);
    this.touch(device, key);
    this.kindChanges.push({ device, path: key });
    // A file turned into a folder: the folder is built on the bytes the file held here, as an
    // edit would be, so another device's rename that carries those bytes on makes no version of
    // its own (chaos seed 60039: b's empty notes.txt, which a had turned into a folder, carried
    // from Ärger/ to ärger/ by b's folder rename; the server moved a's folder there).
    const over = was === 'file' ? this.befores.get(`${device}\u0000${key}`)?.at(-1) : undefined;
    if (over) this.builtOn.set(`${key}\u0000${over}`, new Set([...(this.builtOn.get(`${key}\u0000${over}`) ?? []), device]));
    if (this.live.some((v) => v.device !== device && nfc(v.path).startsWith(`${key}/`))) this.concurrent.add(key);
  }

  /** The user of `device` made the folder `p` (and the folders above it). */
  dirMade(device: string, p: string): void {
    this.touch(device, nfc(p));
    this.dirsMade.push({ device, path: nfc(p) });
    this.fileAbove(device, `${nfc(p)}/`);
  }

  /** Another device's file at a folder on the way to `key` that `device` never had: they meet there. */
  private fileAbove(device: string, key: string): void {
    for (let i = key.indexOf('/'); i > 0; i = key.indexOf('/', i + 1)) {
      const dir = key.slice(0, i);
      if (this.live.some((v) => v.device !== device && nfc(v.path) === dir && !this.had.has(`${device}\u0000${dir}\u0000${v.hash}`))) this.concurrent.add(dir);
    }
  }

  /** The user of `device` renamed the folder `from` to `to` at `step`. */
  dirMoved(device: string, from: string, to: string, step: number): void {
    this.dirMoves.push({ device, from: nfc(from), to: nfc(to), step });
    this.touch(device, nfc(from));
    this.touch(device, nfc(to));
  }

  /**
   * Where a version may be now: its path, and where folder renames took it: any later one
   * (the server moves a folder with what it holds, P9), and any by another device, whatever
   * its step. Steps order what the users did, not what reached the server: this version may
   * have reached it before the other device's earlier rename did, and moved with the folder
   * (chaos seed 3: a new b/café.txt written after dev-b renamed b, not yet pulled here, and
   * uploaded before dev-b's move got through); an edit made before this device pulled the
   * rename follows it (M2). An edit also follows another device's rename of the file itself
   * (M2; a new file there is not that file: the rename of it is refused, P8).
   */
  pathsOf(v: Version): Set<string> {
    const follows = (device: string, step: number) => step > v.step || device !== v.device;
    return namesReached(v.path, (q) => [
      ...this.dirMoves.filter((m) => q.startsWith(`${m.from}/`) && follows(m.device, m.step)).map((m) => m.to + q.slice(m.from.length)),
      ...(v.edited ? this.fileMoves.filter((m) => q === m.from && m.device !== v.device).map((m) => m.to) : []),
    ]);
  }

  /**
   * The names a path may have had: itself, and its names before folder renames (the server
   * moves a folder with whatever it holds, a conflict copy made there included: chaos seed
   * 7003, a copy made in Ärger that the rename of Ärger to ärger carried along).
   */
  earlierNamesOf(p: string): Set<string> {
    return namesReached(nfc(p), (q) => this.dirMoves.filter((m) => q.startsWith(`${m.to}/`)).map((m) => m.from + q.slice(m.to.length)));
  }

  /**
   * The names whose concurrent edits justify a conflict copy of `p`: its earlier names, and
   * the names of files renamed to one of them, since an edit made under the old name follows
   * the moved file and may meet another device's edit there (docs/conflict-rules.md, "What a
   * move racing an edit on another device gives"; chaos seed 10750: notes.txt edited on one
   * device, renamed to NOTES.TXT and edited on the other).
   */
  editedAsOf(p: string): Set<string> {
    return namesReached(nfc(p), (q) => [...this.earlierNamesOf(q), ...this.fileMoves.filter((m) => m.to === q).map((m) => m.from)]);
  }

  /** Whether any user wrote these bytes at `p` (or at a name it had before folder renames). */
  userWrote(p: string, hash: string): boolean {
    return [...this.earlierNamesOf(p)].some((q) => this.writers.has(`${q}\u0000${hash}`));
  }

  /** A user asked the server for what was deleted under `prefix` (null: everywhere). */
  restoring(prefix: string | null): void {
    this.restoredUnder.push(prefix === null ? null : nfc(prefix));
  }

  /** Whether a restore asked for may have brought `p` back (a path at or under its folder). */
  restoreReached(p: string): boolean {
    const key = nfc(p);
    return this.restoredUnder.some((prefix) => prefix === null || key === prefix || key.startsWith(`${prefix}/`));
  }

  /** The user of `device` removed `p` (after replace() recorded what was there). */
  deleted(device: string, p: string): void {
    const key = nfc(p);
    this.touch(device, key);
    const removed = this.befores.get(`${device}\u0000${key}`)?.at(-1) ?? null;
    this.lastOp.set(key, { device, hash: null, removed });
    if (removed !== null) this.deletedHere.set(`${device}\u0000${key}`, removed);
  }
}

/** `a` is `b`, a folder above it or a path below it. */
const near = (a: string, b: string): boolean => a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);

/** Every name reached from `start` by following `next` again and again (bounded: a rename chain is short). */
function namesReached(start: string, next: (name: string) => string[]): Set<string> {
  const out = new Set([start]);
  const todo = [start];
  while (todo.length > 0 && out.size < 256) {
    for (const q of next(todo.pop()!)) {
      if (out.has(q)) continue;
      out.add(q);
      todo.push(q);
    }
  }
  return out;
}
