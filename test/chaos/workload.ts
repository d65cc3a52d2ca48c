import { createHash, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Ledger } from './ledger';
import { createRng, seededBytes, type Rng } from './rng';

/**
 * The seeded workload: a plan of user operations on every device, generated from the seed
 * alone (so a seed replays the same plan), and an executor that runs them on the real
 * folders while the agents sync. The plan is made against a model that assumes instant sync;
 * on the real disk an operation whose target is not there (yet, or any more) is skipped,
 * and a write to an absent file creates it, as a user's editor would.
 */

export type Op =
  | { kind: 'write'; device: number; path: string; size: number; content: number }
  | { kind: 'append'; device: number; path: string; size: number; content: number }
  | { kind: 'truncate'; device: number; path: string; to: number }
  | { kind: 'delete'; device: number; path: string }
  | { kind: 'rename'; device: number; from: string; to: string }
  | { kind: 'mkdir'; device: number; path: string }
  | { kind: 'rename-dir'; device: number; from: string; to: string }
  | { kind: 'delete-dir'; device: number; path: string }
  /** The same path written on several devices at once (within the same second). */
  | { kind: 'burst'; path: string; writes: Array<{ device: number; size: number; content: number }> }
  /**
   * The user brings back what was deleted under a folder (null: in the whole synced folder)
   * through the device's agent, as `ferry restore --deleted` does (chaos --restore).
   */
  | { kind: 'restore'; device: number; prefix: string | null }
  /** A file removed and a folder made under its name, holding one new file (chaos --kinds). */
  | { kind: 'file-to-dir'; device: number; path: string; name: string; size: number; content: number }
  /** A folder removed with what it held and a file written under its name (chaos --kinds). */
  | { kind: 'dir-to-file'; device: number; path: string; size: number; content: number }
  /**
   * A symbolic link made where nothing is (chaos --links), often under a name the others use for
   * a file or a folder. Ferry never syncs one, never writes through one and never replaces one
   * (docs/conflict-rules.md, U8, D7, DU5, DD8); `to` is what it points at.
   */
  | { kind: 'symlink'; device: number; path: string; to: LinkTarget };

/** Outside the synced folder (a folder, or a file in it), the link's own folder (a loop), or nothing. */
export type LinkTarget = 'outside-dir' | 'outside-file' | 'loop' | 'nowhere';
const LINK_TARGETS: readonly LinkTarget[] = ['outside-dir', 'outside-file', 'loop', 'nowhere'];

/** Names in NFC and in NFD (the same text, other bytes), plus case variants. */
const NFD = (s: string) => s.normalize('NFD');
const ALL_FILE_NAMES = [
  'notes.txt', 'Notes.txt', 'report.md', 'data.bin', 'empty', '.hidden', 'a.tar.gz', 'README', 'IMG_0001.JPG',
  'café.txt', NFD('café.txt'), 'naïve résumé.pdf', NFD('naïve résumé.pdf'), '日本語.txt', 'x', 'Ünïcödé.log',
];
/**
 * Disjoint from the file names (also ignoring case), so a path is always a file or always a
 * folder, unless a user turns one into the other (chaos --kinds).
 */
const ALL_DIR_NAMES = ['docs', 'Docs', 'photos', 'a', 'b', 'deep', 'Ärger', NFD('Ärger'), 'new folder', 'ü'];

export interface Plan {
  devices: number;
  ops: Op[];
  /** Milliseconds to wait after each op (0: the next op follows at once). */
  pauses: number[];
}

function pickSize(rng: Rng): number {
  return rng.weighted<() => number>([
    [() => 0, 8],
    [() => rng.int(1, 100), 30],
    [() => rng.int(101, 64 * 1024), 45],
    [() => rng.int(64 * 1024, 1024 * 1024), 12],
    [() => rng.int(1024 * 1024, 5 * 1024 * 1024), 5],
  ])();
}


const join = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);
const flipCase = (name: string) => (name === name.toLowerCase() ? name.toUpperCase() : name.toLowerCase());

/** Generates the plan from the seed only. */
export function makePlan(seed: number, devices: number, opCount: number, options: { nfd?: boolean; bulkDeletes?: boolean; restores?: boolean; kinds?: boolean; links?: boolean } = {}): Plan {
  const rng = createRng(seed);
  // Without NFD the NFD names are written in NFC: the plan (and its random choices) stays the same.
  const FILE_NAMES = options.nfd === false ? ALL_FILE_NAMES.map((n) => n.normalize('NFC')) : ALL_FILE_NAMES;
  const DIR_NAMES = options.nfd === false ? ALL_DIR_NAMES.map((n) => n.normalize('NFC')) : ALL_DIR_NAMES;
  const randomDir = () => {
    const depth = rng.weighted([[0, 3], [1, 4], [2, 2], [3, 1]] as const);
    const parts: string[] = [];
    for (let i = 0; i < depth; i++) parts.push(rng.pick(DIR_NAMES));
    return parts.join('/');
  };
  // The model: what the shared folder holds if sync were instant.
  const files = new Set<string>();
  const dirs = new Set<string>();
  /** Files the users removed (deleted, renamed away): what a restore may bring back. */
  const deletedFiles = new Set<string>();
  const addParents = (p: string) => {
    for (let d = path.posix.dirname(p); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
  };
  const under = (set: Set<string>, dir: string) => [...set].filter((p) => p.startsWith(dir + '/'));
  const existingFile = () => (files.size ? rng.pick([...files].sort()) : null);
  const existingDir = () => (dirs.size ? rng.pick([...dirs].sort()) : null);

  const ops: Op[] = [];
  const pauses: number[] = [];
  while (ops.length < opCount) {
    const device = rng.int(0, devices - 1);
    const kind = rng.weighted([
      ['create', 22], ['modify', 14], ['append', 9], ['truncate', 5], ['delete', 8], ['rename', 10],
      // bulkDeletes (chaos --guard): folders deleted with what they hold more often, for the guard to weigh.
      ['mkdir', 4], ['rename-dir', 4], ['delete-dir', options.bulkDeletes ? 10 : 2], ['burst', 9],
      // Last, and weightless without --restore: the plans of every other mode stay as they were.
      ['restore', options.restores ? 6 : 0],
      // Weightless without --kinds, for the same reason.
      ['file-to-dir', options.kinds ? 4 : 0], ['dir-to-file', options.kinds ? 4 : 0],
      // And without --links.
      ['symlink', options.links ? 4 : 0],
    ] as const);
    let op: Op | null = null;
    const target = existingFile();
    switch (kind) {
      case 'create':
      case 'modify': {
        const p = kind === 'modify' && target ? target : join(randomDir(), rng.pick(FILE_NAMES));
        op = { kind: 'write', device, path: p, size: pickSize(rng), content: rng.seed() };
        break;
      }
      case 'append':
        if (target) op = { kind: 'append', device, path: target, size: rng.weighted([[() => rng.int(1, 200), 3], [() => pickSize(rng), 1]] as const)(), content: rng.seed() };
        break;
      case 'truncate':
        if (target) op = { kind: 'truncate', device, path: target, to: rng.chance(0.3) ? 0 : rng.int(0, 4096) };
        break;
      case 'delete':
        if (target) op = { kind: 'delete', device, path: target };
        break;
      case 'rename':
        if (target) {
          const base = path.posix.basename(target);
          const dir = path.posix.dirname(target) === '.' ? '' : path.posix.dirname(target);
          const to = rng.weighted<() => string>([
            [() => join(dir, flipCase(base)), 3], // case-only
            [() => join(dir, rng.pick(FILE_NAMES)), 3],
            [() => join(randomDir(), base), 4], // move
          ])();
          if (to !== target) op = { kind: 'rename', device, from: target, to };
        }
        break;
      case 'mkdir':
        op = { kind: 'mkdir', device, path: join(randomDir(), rng.pick(DIR_NAMES)) };
        break;
      case 'rename-dir': {
        const from = existingDir();
        if (!from) break;
        const parent = path.posix.dirname(from) === '.' ? '' : path.posix.dirname(from);
        const to = rng.chance(0.4) ? join(parent, flipCase(path.posix.basename(from))) : join(randomDir(), rng.pick(DIR_NAMES));
        if (to !== from && !to.startsWith(from + '/') && !dirs.has(to) && !files.has(to)) op = { kind: 'rename-dir', device, from, to };
        break;
      }
      case 'delete-dir': {
        const dir = existingDir();
        if (dir) op = { kind: 'delete-dir', device, path: dir };
        break;
      }
      case 'burst': {
        if (devices < 2) break;
        const p = target && rng.chance(0.7) ? target : join(randomDir(), rng.pick(FILE_NAMES));
        const count = rng.int(2, devices);
        const order = [...Array(devices).keys()].sort(() => rng.next() - 0.5).slice(0, count);
        op = { kind: 'burst', path: p, writes: order.map((d) => ({ device: d, size: pickSize(rng), content: rng.seed() })) };
        break;
      }
      case 'restore': {
        const gone = [...deletedFiles].sort();
        const parentOf = (f: string) => (path.posix.dirname(f) === '.' ? null : path.posix.dirname(f));
        const prefix = rng.weighted<() => string | null>([
          [() => (gone.length ? parentOf(rng.pick(gone)) : null), 5],
          [() => existingDir(), 2],
          [() => null, 1],
        ])();
        op = { kind: 'restore', device, prefix };
        break;
      }
      case 'file-to-dir':
        if (target) op = { kind: 'file-to-dir', device, path: target, name: rng.pick(FILE_NAMES), size: pickSize(rng), content: rng.seed() };
        break;
      case 'dir-to-file': {
        const dir = existingDir();
        if (dir) op = { kind: 'dir-to-file', device, path: dir, size: pickSize(rng), content: rng.seed() };
        break;
      }
      case 'symlink':
        // Names the others use too: their files and folders meet the link there.
        op = { kind: 'symlink', device, path: join(randomDir(), rng.pick(rng.chance(0.5) ? DIR_NAMES : FILE_NAMES)), to: rng.pick(LINK_TARGETS) };
        break;
    }
    if (!op) continue;
    // Keep the model in step.
    switch (op.kind) {
      case 'write':
      case 'append':
      case 'burst':
        files.add(op.path);
        deletedFiles.delete(op.path);
        addParents(op.path);
        break;
      case 'delete':
        files.delete(op.path);
        deletedFiles.add(op.path);
        break;
      case 'rename':
        files.delete(op.from);
        deletedFiles.add(op.from);
        files.add(op.to);
        deletedFiles.delete(op.to);
        addParents(op.to);
        break;
      case 'mkdir':
        dirs.add(op.path);
        addParents(op.path);
        break;
      case 'rename-dir': {
        const { from, to } = op;
        for (const f of under(files, from)) {
          files.delete(f);
          files.add(to + f.slice(from.length));
        }
        for (const d of [from, ...under(dirs, from)]) {
          dirs.delete(d);
          dirs.add(to + d.slice(from.length));
        }
        addParents(to);
        break;
      }
      case 'delete-dir':
      case 'dir-to-file':
        for (const f of under(files, op.path)) {
          files.delete(f);
          deletedFiles.add(f);
        }
        for (const d of [op.path, ...under(dirs, op.path)]) dirs.delete(d);
        if (op.kind === 'dir-to-file') {
          files.add(op.path);
          deletedFiles.delete(op.path);
        }
        break;
      case 'restore':
        for (const f of op.prefix === null ? [...deletedFiles] : under(deletedFiles, op.prefix)) {
          deletedFiles.delete(f);
          files.add(f);
          addParents(f);
        }
        break;
      case 'file-to-dir':
        files.delete(op.path);
        deletedFiles.add(op.path);
        dirs.add(op.path);
        files.add(join(op.path, op.name));
        break;
      default:
        break;
    }
    ops.push(op);
    pauses.push(rng.weighted<() => number>([[() => 0, 3], [() => rng.int(20, 200), 5], [() => rng.int(300, 1200), 2]])());
  }
  return { devices, ops, pauses };
}

// ── executing on real folders ──

export interface DeviceFolder {
  name: string;
  root: string;
}

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Unique bytes: a header naming the write, then seeded bytes (truncated for tiny sizes). */
export function contentOf(tag: string, seed: number, size: number): Buffer {
  if (size === 0) return Buffer.alloc(0);
  const head = Buffer.from(`${tag}\n`);
  return Buffer.concat([head, seededBytes(seed, Math.max(0, size - head.length))]).subarray(0, size);
}

/** A name next to `abs` that Ferry ignores (`*.tmp`) and the agents never write to. */
const asideOf = (abs: string): string => path.join(path.dirname(abs), `.chaos-${randomUUID()}.tmp`);

/**
 * A user's rename of the file `from` onto `to`, done so that what it moved and what it replaced
 * are known exactly, though an agent's pull may place a file at either name at any moment. The
 * file is moved aside first (atomic: what moves is what was there), then hard-linked at `to`,
 * which fails while anything is there; what is there is moved aside in turn, recorded as
 * replaced, and the link tried again. A rename after a look at `to` leaves a gap in which a
 * download lands unseen, and the ledger then takes the download for a version nobody replaced
 * (chaos seeds 12009 and 17870). Null: `from` was not there. `between` runs once the file is
 * aside (a test's stand-in for a download landing then).
 */
export async function renameCapturing(
  from: string,
  to: string,
  between?: () => Promise<void>,
): Promise<{ moved: Buffer; replaced: Buffer[] } | null> {
  const taken = await takeFileAside(from);
  if (!taken) return null;
  const { aside: moving, bytes: moved } = taken;
  const replaced: Buffer[] = [];
  try {
    await between?.();
    for (;;) {
      try {
        await fsp.link(moving, to);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const gone = asideOf(to);
      try {
        await fsp.rename(to, gone);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      if (!(await fsp.lstat(gone)).isFile()) {
        // A folder arrived at the name: the user's rename cannot go there.
        await fsp.rename(gone, to);
        throw Object.assign(new Error(`a folder is at ${to}`), { code: 'EISDIR' });
      }
      replaced.push(await fsp.readFile(gone));
      await fsp.rm(gone);
    }
  } catch (error) {
    // Not renamed: the file goes back where it was, so the ledger's view (nothing done) holds.
    await fsp.rename(moving, from);
    throw error;
  }
  await fsp.rm(moving);
  return { moved, replaced };
}

/**
 * The file at `abs` moved aside (atomic: what is read is exactly what was there) and read. Null
 * when nothing was there, or it was no file (put back).
 */
async function takeFileAside(abs: string): Promise<{ aside: string; bytes: Buffer } | null> {
  const aside = asideOf(abs);
  try {
    await fsp.rename(abs, aside);
  } catch {
    return null;
  }
  if (!(await fsp.lstat(aside)).isFile()) {
    await fsp.rename(aside, abs);
    return null;
  }
  return { aside, bytes: await fsp.readFile(aside) };
}

async function readFileOrNull(abs: string): Promise<Buffer | null> {
  try {
    const st = await fsp.lstat(abs);
    if (!st.isFile()) return null;
    return await fsp.readFile(abs);
  } catch {
    return null;
  }
}

/** Files under a directory (relative '/'-paths) with their content hashes. */
async function filesUnder(abs: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(dir: string, rel: string): Promise<void> {
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(dir, e.name), r);
      else if (e.isFile()) {
        const data = await readFileOrNull(path.join(dir, e.name));
        if (data) out.set(r, sha256(data));
      }
    }
  }
  await walk(abs, '');
  return out;
}

/** The file in each device's folder outside its synced folder, which no link may let Ferry read, change or remove (chaos --links). */
export const CANARY = 'canary.txt';
/** The folder beside a device's synced folder that its links point into. */
export const outsideOf = (device: DeviceFolder): string => `${device.root}-outside`;
export const canaryBytes = (device: DeviceFolder): Buffer => Buffer.from(`the canary of ${device.name}: outside the synced folder, never synced\n`);

/** What the users did near links (chaos --links): each link made, and each op that may move or remove one. */
export interface LinkRecord {
  links: Array<{ device: number; path: string; step: number }>;
  /** Every user op done, by device, with the paths it touched; `dirOp`: it moved, removed or replaced a folder. */
  ops: Array<{ device: number; paths: string[]; step: number; dirOp: boolean }>;
}

export interface ExecStats {
  executed: number;
  skipped: number;
  byKind: Record<string, number>;
}

/** Runs plan operations on the device folders and records them in the ledger. */
export class Executor {
  readonly stats: ExecStats = { executed: 0, skipped: 0, byKind: {} };
  readonly linkRecord: LinkRecord = { links: [], ops: [] };

  constructor(
    private readonly devices: DeviceFolder[],
    private readonly ledger: Ledger,
    private readonly log: (line: string) => void = () => undefined,
    private readonly hooks: {
      /** Runs inside each rename, once the file is aside and before it lands (tests only). */
      beforeRenameLands?: (to: string) => Promise<void>;
      /** A restore through the device's agent; without it, restore ops are skipped. */
      restore?: (device: number, prefix: string | null) => Promise<void>;
    } = {},
  ) {}

  async run(op: Op, step: number): Promise<void> {
    let done: boolean;
    try {
      done = await this.exec(op, step);
    } catch (error) {
      // The sync engine moves things under the user's feet: a race is a skipped op, not a failure.
      this.log(`step ${step}: ${op.kind} skipped (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      done = false;
    }
    if (done) {
      this.recordForLinks(op, step);
      this.stats.executed++;
      this.stats.byKind[op.kind] = (this.stats.byKind[op.kind] ?? 0) + 1;
    } else {
      this.stats.skipped++;
    }
  }

  private recordForLinks(op: Op, step: number): void {
    if (op.kind === 'restore') return;
    if (op.kind === 'burst') {
      for (const w of op.writes) this.linkRecord.ops.push({ device: w.device, paths: [op.path], step, dirOp: false });
      return;
    }
    const paths = 'from' in op ? [op.from, op.to] : [op.path];
    const dirOp = op.kind === 'rename-dir' || op.kind === 'delete-dir' || op.kind === 'dir-to-file' || op.kind === 'file-to-dir';
    this.linkRecord.ops.push({ device: op.device, paths, step, dirOp });
    if (op.kind === 'symlink') this.linkRecord.links.push({ device: op.device, path: op.path, step });
  }

  /**
   * The on-disk path a user means: a name that is already there in the other Unicode form is
   * the one the user sees and opens (a user never makes both forms of one name on one device).
   * Never through a symbolic link (chaos --links): what is beyond one is not the synced folder's,
   * and a user's write there would be no version Ferry could sync.
   */
  private async abs(device: number, rel: string): Promise<string> {
    let dir = this.devices[device]!.root;
    const parts = rel.split('/');
    for (const [i, part] of parts.entries()) {
      const names = await fsp.readdir(dir).catch(() => [] as string[]);
      const seen = names.includes(part) ? part : names.find((n) => n.normalize('NFC') === part.normalize('NFC'));
      dir = path.join(dir, seen ?? part);
      if (i < parts.length - 1 && (await fsp.lstat(dir).catch(() => null))?.isSymbolicLink()) {
        throw Object.assign(new Error(`${dir} is a symbolic link`), { code: 'ESYMLINK' });
      }
    }
    return dir;
  }

  /** The folder beside the device's synced folder, with its canary, made on the first link. */
  private async outside(device: number): Promise<string> {
    const folder = this.devices[device]!;
    const dir = outsideOf(folder);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, CANARY), canaryBytes(folder), { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    return dir;
  }

  private name(device: number): string {
    return this.devices[device]!.name;
  }

  private async exec(op: Op, step: number): Promise<boolean> {
    switch (op.kind) {
      case 'write':
        return this.write(op.device, op.path, contentOf(`${step}:${op.device}`, op.content, op.size), step);
      case 'burst': {
        const results = await Promise.all(
          op.writes.map((w) => this.write(w.device, op.path, contentOf(`${step}:${w.device}`, w.content, w.size), step).catch(() => false)),
        );
        return results.some(Boolean);
      }
      case 'append': {
        const extra = contentOf(`${step}:${op.device}+`, op.content, op.size);
        return this.edit(op.device, op.path, step, (before) => (before ? Buffer.concat([before, extra]) : extra));
      }
      case 'truncate':
        return this.edit(op.device, op.path, step, (before) => (before ? before.subarray(0, Math.min(op.to, before.length)) : null));
      case 'delete':
        return this.deleteFile(op.device, op.path);
      case 'file-to-dir': {
        if (!(await this.deleteFile(op.device, op.path))) return false;
        this.ledger.kindChanged(this.name(op.device), op.path, 'file');
        await fsp.mkdir(await this.abs(op.device, op.path));
        await this.write(op.device, `${op.path}/${op.name}`, contentOf(`${step}:${op.device}`, op.content, op.size), step);
        return true;
      }
      case 'dir-to-file': {
        if (!(await this.deleteDir(op.device, op.path))) return false;
        this.ledger.kindChanged(this.name(op.device), op.path, 'dir');
        await this.write(op.device, op.path, contentOf(`${step}:${op.device}`, op.content, op.size), step);
        return true;
      }
      case 'rename': {
        const from = await this.abs(op.device, op.from);
        const to = await this.abs(op.device, op.to);
        if (from === to) return false;
        const st = await fsp.lstat(to).catch(() => null);
        if (st && !st.isFile()) return false;
        // The folders on the way are this device's, made even when the rename then finds no file
        // (chaos seed 71105 --kinds --links: dev-a's `deep/b/photos`, made so, went to the server,
        // and the check took it for something read through dev-b's link `deep`).
        const device = this.name(op.device);
        if ((await fsp.mkdir(path.dirname(to), { recursive: true })) !== undefined) this.ledger.dirMade(device, path.posix.dirname(op.to));
        const lands = this.hooks.beforeRenameLands;
        const done = await renameCapturing(from, to, lands && (() => lands(to)));
        if (!done) return false;
        const hash = sha256(done.moved);
        this.ledger.replace(device, op.from, hash);
        this.ledger.deleted(device, op.from);
        // Each file the rename found at the new name (normally one at most) is one it replaced.
        if (done.replaced.length === 0) this.ledger.replace(device, op.to, null);
        for (const bytes of done.replaced) this.ledger.replace(device, op.to, sha256(bytes));
        const last = done.replaced.at(-1);
        const replaced = last ? sha256(last) : null;
        // Moved over the same bytes: the new name's content did not change (as an edit to the
        // same bytes is none), and a synced file there stays unchanged (docs/conflict-rules.md,
        // "unchanged"; chaos seed 3022: an empty file moved over the synced empty one, which
        // another device's delete then rightly removed).
        if (replaced !== hash) this.ledger.movedFile(device, op.from, op.to, hash, step);
        return true;
      }
      case 'mkdir': {
        const abs = await this.abs(op.device, op.path);
        // A link there is no folder to make (mkdir would follow it).
        if ((await fsp.lstat(abs).catch(() => null))?.isSymbolicLink()) return false;
        await fsp.mkdir(abs, { recursive: true });
        this.ledger.dirMade(this.name(op.device), op.path);
        return true;
      }
      case 'rename-dir': {
        const from = await this.abs(op.device, op.from);
        const to = await this.abs(op.device, op.to);
        if (!(await fsp.lstat(from).catch(() => null))?.isDirectory()) return false;
        if (await fsp.lstat(to).catch(() => null)) return false;
        const before = await filesUnder(from);
        await fsp.mkdir(path.dirname(to), { recursive: true });
        await fsp.rename(from, to);
        // What moved is what is in the new place now (a file may have arrived in between).
        const after = await filesUnder(to);
        const device = this.name(op.device);
        this.ledger.dirMoved(device, op.from, op.to, step);
        for (const [rel, hash] of before) if (!after.has(rel)) this.gone(device, `${op.from}/${rel}`, hash);
        // Each file moved with the folder is a moved file: bytes another device already edited
        // are that edit's base, not a version of their own (M2; chaos seed 7001).
        for (const [rel, hash] of after) {
          this.gone(device, `${op.from}/${rel}`, hash);
          this.ledger.replace(device, `${op.to}/${rel}`, null);
          this.ledger.movedFile(device, `${op.from}/${rel}`, `${op.to}/${rel}`, hash, step);
        }
        return true;
      }
      case 'delete-dir':
        return this.deleteDir(op.device, op.path);
      case 'symlink': {
        const abs = await this.abs(op.device, op.path);
        if (await fsp.lstat(abs).catch(() => null)) return false;
        const outside = await this.outside(op.device);
        const target = op.to === 'outside-dir' ? outside : op.to === 'outside-file' ? path.join(outside, CANARY) : op.to === 'loop' ? '.' : 'nowhere-at-all';
        await fsp.mkdir(path.dirname(abs), { recursive: true });
        await fsp.symlink(target, abs);
        // The folders above the link are the user's, made here: synced as any folder (chaos
        // --links seed 72070: one read as made through another device's link).
        const above = path.posix.dirname(op.path);
        if (above !== '.') this.ledger.dirMade(this.name(op.device), above);
        return true;
      }
      case 'restore': {
        if (!this.hooks.restore) return false;
        // Before the call: the server may restore even when its answer is lost on the way.
        this.ledger.restoring(op.prefix);
        await this.hooks.restore(op.device, op.prefix);
        return true;
      }
    }
  }

  /**
   * The user deletes the file at `rel`. Moved aside (to a name Ferry ignores) before it is read:
   * what the user removed is exactly what was there, even if a download replaced the file a
   * moment before. False: no file was there.
   */
  private async deleteFile(device: number, rel: string): Promise<boolean> {
    const taken = await takeFileAside(await this.abs(device, rel));
    if (!taken) return false;
    await fsp.rm(taken.aside);
    this.gone(this.name(device), rel, sha256(taken.bytes));
    return true;
  }

  /**
   * The user deletes the folder at `rel` with what it holds. Moved aside first, as a single
   * delete is: what the user removed is exactly what was in it, whatever a download put there a
   * moment before (chaos seed 82). False: no folder was there.
   */
  private async deleteDir(device: number, rel: string): Promise<boolean> {
    const abs = await this.abs(device, rel);
    if (!(await fsp.lstat(abs).catch(() => null))?.isDirectory()) return false;
    const aside = asideOf(abs);
    try {
      await fsp.rename(abs, aside);
    } catch {
      return false;
    }
    const before = await filesUnder(aside);
    await fsp.rm(aside, { recursive: true, force: true });
    for (const [file, hash] of before) this.gone(this.name(device), `${rel}/${file}`, hash);
    return true;
  }

  /** The user removed (or moved away) what it saw at p. */
  private gone(device: string, p: string, hash: string): void {
    this.ledger.replace(device, p, hash);
    this.ledger.deleted(device, p);
  }

  private write(device: number, rel: string, data: Buffer, step: number): Promise<boolean> {
    return this.edit(device, rel, step, () => data);
  }

  /**
   * A user's edit of one file: read and rewritten through one descriptor, so the ledger's
   * "before" is exactly what the user replaced. The sync engine replaces files by rename,
   * never in place; one that lands between the read and the write (the ledger once took the
   * old bytes for what the user replaced: chaos seed 15) leaves this write on the old inode,
   * as an editor's would be, and the edit is made again on the file now there.
   * `change` returns the new bytes, or null for no edit (nothing to truncate).
   */
  private async edit(device: number, rel: string, step: number, change: (before: Buffer | null) => Buffer | null): Promise<boolean> {
    const abs = await this.abs(device, rel);
    for (let attempt = 0; attempt < 5; attempt++) {
      const st = await fsp.lstat(abs).catch(() => null);
      if (st && !st.isFile()) return false;
      // Nothing to edit (a truncate of a file that is not there) creates nothing.
      if (!st && change(null) === null) return false;
      await fsp.mkdir(path.dirname(abs), { recursive: true });
      const handle = await fsp.open(abs, st ? 'r+' : 'wx').catch(() => null);
      if (!handle) continue; // created or removed meanwhile: look again
      let before: Buffer | null;
      let after: Buffer | null;
      let written: number;
      try {
        before = st ? await handle.readFile() : null;
        after = change(before);
        if (after === null) return false;
        if (before && after.equals(before)) return true; // the same bytes: no new version
        await handle.truncate(0);
        await handle.write(after, 0, after.length, 0);
        written = (await handle.stat()).ino;
      } finally {
        await handle.close();
      }
      const now = await fsp.lstat(abs).catch(() => null);
      // The user wrote these bytes over what it read either way: where the sync engine moved
      // that file (a conflict copy keeps the inode) they went with it, and must be found there
      // (chaos seed 17). Recorded in one step, no await between: the devices of a burst see
      // each other's writes.
      this.ledger.replace(this.name(device), rel, before ? sha256(before) : null);
      this.ledger.write(this.name(device), rel, sha256(after), step);
      if (now?.ino === written) return true;
    }
    return false;
  }
}
