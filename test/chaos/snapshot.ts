import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { BLOCK_SIZE } from '../../protocol/constants';
import type { SyncApiClient } from '../../main/remote';
import { nfc } from './ledger';

/**
 * Trees to compare: a device's folder as it is on disk, and the server's current state
 * (the changes feed without a token pages through the full listing).
 */
export interface FileEntry {
  size: number;
  blocks: string[];
  /** SHA-256 of the whole content (for the server: once the blocks were fetched). */
  hash?: string;
}

export interface Tree {
  files: Map<string, FileEntry>;
  /** Every directory (NFC), empty ones included where the side knows them. */
  dirs: Set<string>;
  /** Two on-disk names that are the same path in NFC. */
  nfcClashes: string[];
  /** Temp or partial files: anything in .ferry/tmp, and *.part / *.tmp names anywhere. */
  temps: string[];
  /** Symbolic links (NFC; chaos --links): Ferry neither syncs nor replaces them. */
  links: string[];
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
export const sha256Of = sha;
const TEMP_NAME = /(\.part|\.tmp|\.partial|\.download)$/i;

export function blocksOf(data: Buffer): string[] {
  const blocks: string[] = [];
  for (let i = 0; i < data.length; i += BLOCK_SIZE) blocks.push(sha(data.subarray(i, i + BLOCK_SIZE)));
  return blocks;
}

export async function localTree(root: string): Promise<Tree> {
  const tree: Tree = { files: new Map(), dirs: new Set(), nfcClashes: [], temps: [], links: [] };
  const seen = new Set<string>();
  async function walk(dir: string, rel: string): Promise<void> {
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const abs = path.join(dir, e.name);
      if (!rel && e.name === '.ferry') {
        await workArea(abs, '.ferry');
        continue;
      }
      const key = nfc(r);
      if (seen.has(key)) tree.nfcClashes.push(r);
      seen.add(key);
      if (TEMP_NAME.test(e.name)) tree.temps.push(r);
      if (e.isDirectory()) {
        tree.dirs.add(key);
        await walk(abs, r);
      } else if (e.isFile()) {
        const data = await fsp.readFile(abs);
        tree.files.set(key, { size: data.length, blocks: blocksOf(data), hash: sha(data) });
      } else if (e.isSymbolicLink()) {
        tree.links.push(key);
      } else {
        tree.temps.push(`${r} (not a regular file)`);
      }
    }
  }
  async function workArea(abs: string, rel: string): Promise<void> {
    for (const e of await fsp.readdir(abs, { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (r === '.ferry/tmp') {
          for (const left of await fsp.readdir(path.join(abs, e.name))) tree.temps.push(`${r}/${left}`);
        } else await workArea(path.join(abs, e.name), r);
      } else if (TEMP_NAME.test(e.name)) tree.temps.push(r);
    }
  }
  await walk(root, '');
  return tree;
}

/**
 * localTree of a folder its agent may still be changing (when the faults stop): a file or
 * folder that goes, or turns into the other kind, between its listing and its reading makes
 * that read start again (chaos seed 60105: a file the pull had just turned into a folder).
 */
export async function liveLocalTree(root: string, attempts = 20, read: (root: string) => Promise<Tree> = localTree): Promise<Tree> {
  for (let i = 1; ; i++) {
    try {
      return await read(root);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EISDIR') || i >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

export async function serverTree(client: SyncApiClient, folderId: string): Promise<Tree> {
  const tree: Tree = { files: new Map(), dirs: new Set(), nfcClashes: [], temps: [], links: [] };
  const latest = new Map<string, { revision: number; deleted: boolean; size: number; blocks: string[]; kind?: string }>();
  let next: string | undefined;
  for (;;) {
    const page = await client.changesPage(folderId, next ? { next } : {});
    for (const item of page.items) {
      const rev = Number(item.revision);
      const prev = latest.get(item.path);
      if (prev && prev.revision > rev) continue;
      const kind: string | undefined = item.kind;
      latest.set(item.path, { revision: rev, deleted: item.deleted, size: item.size, blocks: item.blocks, ...(kind ? { kind } : {}) });
    }
    next = page._links.next?.href;
    if (!next) break;
  }
  for (const [p, item] of latest) {
    if (item.deleted) continue;
    if (item.kind === 'dir') tree.dirs.add(p);
    else tree.files.set(p, { size: item.size, blocks: item.blocks });
  }
  // A file or a folder implies its parents (docs/conflict-rules.md, "Implicit parents").
  for (const p of [...tree.files.keys(), ...tree.dirs]) {
    for (let d = path.posix.dirname(p); d !== '.'; d = path.posix.dirname(d)) tree.dirs.add(d);
  }
  return tree;
}

/** Fetches every block of the server tree once, verifies it and sets each file's hash. */
export async function fetchContents(client: SyncApiClient, tree: Tree): Promise<string[]> {
  const problems: string[] = [];
  const blocks = new Map<string, Buffer>();
  for (const [p, file] of tree.files) {
    const parts: Buffer[] = [];
    for (const hash of file.blocks) {
      let data = blocks.get(hash);
      if (!data) {
        try {
          data = await client.getBlock(hash);
        } catch (error) {
          problems.push(`server: block ${hash.slice(0, 12)} of ${p} cannot be read (${(error as Error).message})`);
          break;
        }
        if (sha(data) !== hash) problems.push(`server: block ${hash.slice(0, 12)} of ${p} does not match its hash`);
        blocks.set(hash, data);
      }
      parts.push(data);
    }
    const whole = Buffer.concat(parts);
    if (whole.length !== file.size) problems.push(`server: ${p} has ${whole.length} bytes in its blocks, ${file.size} listed`);
    file.hash = sha(whole);
  }
  return problems;
}

/** Differences of a device's tree against the server's (empty: equal). */
export function diffTrees(device: string, local: Tree, server: Tree, compareEmptyDirs: boolean): string[] {
  const out: string[] = [];
  // What the server holds at or below a link of this device stays the link here (U8, DU5).
  const atLink = (p: string) => local.links.some((l) => p === l || p.startsWith(`${l}/`));
  for (const [p, s] of server.files) {
    if (atLink(p)) continue;
    const l = local.files.get(p);
    if (!l) out.push(`${device}: missing ${JSON.stringify(p)} (${s.size} B on the server)`);
    else if (l.size !== s.size || l.blocks.join() !== s.blocks.join()) out.push(`${device}: ${JSON.stringify(p)} differs (${l.size} B here, ${s.size} B on the server)`);
  }
  for (const [p, l] of local.files) if (!server.files.has(p)) out.push(`${device}: extra ${JSON.stringify(p)} (${l.size} B, not on the server)`);
  // Directories: as implied by files (equal files imply equal implied dirs), and the empty ones
  // only once the protocol carries them.
  if (compareEmptyDirs) {
    for (const d of server.dirs) if (!local.dirs.has(d) && !atLink(d)) out.push(`${device}: missing directory ${JSON.stringify(d)}`);
    for (const d of local.dirs) if (!server.dirs.has(d)) out.push(`${device}: extra directory ${JSON.stringify(d)}`);
  }
  for (const c of local.nfcClashes) out.push(`${device}: ${JSON.stringify(c)} has the same NFC path as another entry`);
  return out;
}
