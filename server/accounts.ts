import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { FerryError, normalizePairingCode, PAIRING_CODE_ALPHABET } from '../protocol';
import type { SqlDb } from './storage/sql';
import { folderHeld } from './folders';

/**
 * Users, paired devices, pairing codes and who reaches what (docs/sync-api.md, "Accounts and
 * devices"). The rest of the server sees only the `Accounts` interface, so the SQLite tables
 * behind it can move to another database without touching the routes.
 */
export interface Accounts {
  addUser(name: string): Promise<User>;
  user(name: string): Promise<User | undefined>;
  /** A one-time pairing code for `user`, valid PAIRING_CODE_TTL_MS; only its hash is kept. */
  createPairingCode(userName: string): Promise<{ code: string; expiresAt: number }>;
  /**
   * Trades a pairing code for a new device and its token (returned this once). `replaces`: the
   * token the device used before; the live device with it, of whichever user, is revoked in the
   * same transaction: a computer paired again keeps one credential, not two, and its agent id is
   * free for the new one (docs/sync-api.md, "Pairing again").
   */
  redeemPairingCode(code: string, deviceName: string, replaces?: string): Promise<{ device: DeviceInfo; token: string; replaced: string | null }>;
  /** The device a bearer token belongs to (revoked ones too), or undefined. */
  deviceByToken(token: string): Promise<(DeviceInfo & { userId: number }) | undefined>;
  devices(userName?: string): Promise<DeviceInfo[]>;
  /**
   * Removes a user (`ferry server user remove`): signs every live device of theirs out (as
   * `revoke` does: their next request is 401 `device_revoked`), drops their pairing codes not
   * traded yet and every folder shared with them, and gives the folders they own to `foldersTo`,
   * which must be another user: refused, with nothing changed, when they own folders and no
   * `foldersTo` is given. The user's row stays (marked removed, their name moved aside), so their
   * devices stay listed under their name and `NAME` may be added again, as a new user.
   */
  removeUser(name: string, foldersTo?: string): Promise<UserRemoval>;
  /**
   * Removes a folder that holds nothing (`ferry server folder remove`): no entry, no past
   * version, no batch queued or running; refused, nothing changed, otherwise. Its shares, device
   * reports and block grants go with it (docs/sync-api.md, "Accounts and devices").
   */
  removeFolder(folderId: string): Promise<FolderRemoval>;
  /** Signs a device out; false when it was already revoked. */
  revoke(deviceId: string): Promise<boolean>;
  /** Whether the device is signed out now (or gone): a request that waited re-checks it before answering. */
  revoked(deviceId: string): Promise<boolean>;
  /** Lets `userName` reach `folderId`; false when it already could. */
  share(folderId: string, userName: string): Promise<boolean>;
  /**
   * Takes a shared folder away from `userName`: their devices' next request about it is 404, as
   * for a folder never shared. False when it was not shared with them; refused for its owner.
   */
  unshare(folderId: string, userName: string): Promise<boolean>;
  /** Every user with how many devices they paired and how many are live (not revoked). */
  users(): Promise<UserListing[]>;
  /** Every folder (or those `userName` reaches), with its owner and whom it is shared with. */
  folders(userName?: string): Promise<FolderListing[]>;
  /** Records that the device's user created the folder (the first creator owns it). */
  claimFolder(folderId: string, userId: number): Promise<void>;
  /** Folders the user owns or was given; a folder nobody owns is reached only with the server token. */
  /** Gives `userName` every folder nobody owns yet (a one-user server moving to accounts); how many. */
  adoptUnownedFolders(userName: string): Promise<number>;
  reachable(userId: number, folderId: string): Promise<boolean>;
  reachableFolders(userId: number): Promise<Set<string>>;
  /** Of `hashes`, those the user may read: uploaded by the user or referred to by a folder the user reaches. */
  readableBlocks(userId: number, hashes: readonly string[]): Promise<Set<string>>;
  recordUploads(userId: number, hashes: readonly string[]): Promise<void>;
}

export interface User {
  id: number;
  name: string;
  createdAt: number;
}

/** What `removeUser` did. */
export interface UserRemoval {
  user: string;
  /** Devices signed out now (those revoked before are not counted). */
  signedOut: number;
  /** Folders of other users that were shared with the user. */
  sharesDropped: number;
  /** The folders the user owned, now `foldersTo`'s. */
  foldersMoved: string[];
  foldersTo: string | null;
}

/** What `removeFolder` did. */
export interface FolderRemoval {
  folder: string;
  owner: string | null;
  sharedWith: string[];
  /** The names the devices that reported on it gave, newest first: they make it again unless it leaves their settings. */
  reportedBy: string[];
}

export interface UserListing extends User {
  devices: number;
  liveDevices: number;
}

export interface FolderListing {
  id: string;
  createdAt: number;
  /** Null: made with the server token, nobody's until shared. */
  owner: string | null;
  sharedWith: string[];
}

export interface DeviceInfo {
  id: string;
  name: string;
  user: string;
  createdAt: number;
  lastSeenAt: number | null;
  revokedAt: number | null;
  /** When the device's user was removed (`ferry server user remove`); null while they are a user. */
  userRemovedAt: number | null;
}

export const PAIRING_CODE_TTL_MS = 10 * 60 * 1000;
/** Device tokens carry this prefix, so the log redaction finds them wherever they are written. */
export const DEVICE_TOKEN_PREFIX = 'fdt_';
export const USER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const USER_NAME_RULE = 'A user name is 1-64 characters of A-Z a-z 0-9 . _ @ - starting with a letter or digit';
/** How often a device's last-seen time is written (not on every request). */
const LAST_SEEN_EVERY_MS = 60 * 1000;


const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** 16 characters (80 bits) in groups of four: XXXX-XXXX-XXXX-XXXX. */
function newPairingCode(): string {
  const bytes = randomBytes(16);
  let code = '';
  for (let i = 0; i < 16; i++) {
    code += PAIRING_CODE_ALPHABET[(bytes[i] as number) % 32];
    if (i % 4 === 3 && i < 15) code += '-';
  }
  return code;
}

export { normalizePairingCode } from '../protocol/accounts';

const pairingError = (code: 'pairing_code_invalid' | 'pairing_code_expired' | 'pairing_code_used', message: string) => new FerryError(code, message);

interface DeviceRow {
  id: string;
  name: string;
  user_name: string;
  user_id: number;
  created_at: number;
  last_seen_at: number | null;
  revoked_at: number | null;
  user_removed_at: number | null;
}

const DEVICE_SELECT = 'SELECT d.id, d.name, u.name AS user_name, d.user_id, d.created_at, d.last_seen_at, d.revoked_at, u.removed_at AS user_removed_at FROM devices d JOIN users u ON u.id = d.user_id';

/**
 * A removed user's row keeps its id (devices, history) under the name NAME/ID: a '/' is in no
 * user's name (USER_NAME_PATTERN), so NAME is free for a new user and the old name is still known.
 */
const removedName = (name: string, id: number): string => `${name}/${id}`;
/** The name a user was added under, removed since or not. */
const nameAdded = (stored: string): string => stored.split('/')[0] as string;

const toDevice = (row: DeviceRow): DeviceInfo => ({
  id: row.id,
  name: row.name,
  user: nameAdded(row.user_name),
  createdAt: row.created_at,
  lastSeenAt: row.last_seen_at,
  revokedAt: row.revoked_at,
  userRemovedAt: row.user_removed_at === null ? null : Number(row.user_removed_at),
});

/** Accounts in the server's metadata database (SQLite or PostgreSQL: server/storage/sql.ts). */
export class SqlAccounts implements Accounts {
  constructor(
    private readonly db: SqlDb,
    private readonly clock: () => number = Date.now,
  ) {}

  async addUser(name: string): Promise<User> {
    if (!USER_NAME_PATTERN.test(name)) {
      throw new FerryError('invalid_request', USER_NAME_RULE);
    }
    if (await this.user(name)) throw new FerryError('conflict', `User '${name}' exists already`);
    const createdAt = this.clock();
    const row = await this.db.get<{ id: number }>('INSERT INTO users (name, created_at) VALUES (?, ?) RETURNING id', [name, createdAt]);
    return { id: Number(row?.id), name, createdAt };
  }

  async user(name: string): Promise<User | undefined> {
    // Only a user not removed: a removed one is stored under NAME/ID, which no name given matches.
    const row = await this.db.get<{ id: number; name: string; created_at: number }>('SELECT id, name, created_at FROM users WHERE name = ? AND removed_at IS NULL', [name]);
    return row && { id: row.id, name: row.name, createdAt: row.created_at };
  }

  /** The user named `name`; refused for a name nobody has, or only a removed user had (saying so). */
  private async existingUser(name: string): Promise<User> {
    const user = await this.user(name);
    if (user) return user;
    // A name with '/' names nobody (removed users are stored under NAME/ID).
    const removed = name.includes('/') ? [] : (await this.db.all<{ name: string; removed_at: number }>('SELECT name, removed_at FROM users WHERE removed_at IS NOT NULL ORDER BY removed_at DESC')).filter((r) => nameAdded(r.name) === name);
    if (removed[0]) {
      throw new FerryError('not_found', `User '${name}' was removed (${new Date(Number(removed[0].removed_at)).toISOString()}): to have ${name} again, add them as a new user with: ferry server user add ${name}`);
    }
    throw new FerryError('not_found', `No user '${name}' (add one with: ferry server user add ${name})`);
  }

  removeUser(name: string, foldersTo?: string): Promise<UserRemoval> {
    return this.db.tx(async () => {
      const user = await this.existingUser(name);
      if (foldersTo === name) throw new FerryError('invalid_request', `--folders-to names ${name}, the user being removed: give the folders to another user`);
      const heir = foldersTo === undefined ? undefined : await this.existingUser(foldersTo);
      if (this.db.dialect === 'postgres') {
        // FOR UPDATE, the user and the heir in id order: of two removals at once (of one user, or
        // each giving folders to the other), the second waits, then finds who was removed (found
        // by review: folders went to a user removed meanwhile, owned by nobody who could act).
        for (const [id, who] of [[user.id, name] as const, ...(heir ? [[heir.id, heir.name] as const] : [])].sort((a, b) => a[0] - b[0])) {
          const locked = await this.db.get<{ removed_at: number | null }>('SELECT removed_at FROM users WHERE id = ? FOR UPDATE', [id]);
          if (locked && locked.removed_at !== null) throw new FerryError('not_found', id === user.id ? `User '${name}' was removed already` : `User '${who}' was removed meanwhile: give the folders to another user`);
        }
      }
      const owned = (await this.db.all<{ folder_id: string }>("SELECT folder_id FROM folder_access WHERE user_id = ? AND role = 'owner' ORDER BY folder_id", [user.id])).map((r) => r.folder_id);
      if (owned.length > 0 && heir === undefined) {
        throw new FerryError(
          'conflict',
          `${name} owns ${owned.length === 1 ? 'the folder' : 'the folders'} ${owned.join(', ')}: give ${owned.length === 1 ? 'it' : 'them'} to another user with --folders-to NAME (ferry server user remove ${name} --folders-to NAME), who then owns ${owned.length === 1 ? 'it' : 'them'}; the files on the server stay. Nothing was removed`,
        );
      }
      const now = this.clock();
      // A code made for them and not traded yet would pair a device of nobody.
      await this.db.run('DELETE FROM pairing_codes WHERE user_id = ? AND used_at IS NULL', [user.id]);
      for (const folderId of owned) {
        // The heir's share of it, if any, becomes their ownership (one row per folder and user).
        await this.db.run("DELETE FROM folder_access WHERE folder_id = ? AND user_id = ? AND role = 'shared'", [folderId, (heir as User).id]);
        await this.db.run("UPDATE folder_access SET user_id = ? WHERE folder_id = ? AND user_id = ? AND role = 'owner'", [(heir as User).id, folderId, user.id]);
      }
      const sharesDropped = await this.db.run("DELETE FROM folder_access WHERE user_id = ? AND role = 'shared'", [user.id]);
      // What `revoke` does, to each live device at once: their next request is 401 device_revoked.
      const signedOut = await this.db.run('UPDATE devices SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL', [now, user.id]);
      await this.db.run('UPDATE users SET removed_at = ?, name = ? WHERE id = ?', [now, removedName(user.name, user.id), user.id]);
      return { user: user.name, signedOut, sharesDropped, foldersMoved: owned, foldersTo: heir?.name ?? null };
    });
  }

  removeFolder(folderId: string): Promise<FolderRemoval> {
    return this.db.tx(async () => {
      // The lock a batch's commit, a share, a claim and a device report take first: each lands
      // before the removal looks, or after it, finding the folder gone (found by review: rows of a
      // folder removed meanwhile were left, an owner row among them).
      if (!(await folderHeld(this.db, folderId, 'update'))) throw new FerryError('not_found', `No folder '${folderId}' on this server (ferry server folders lists them)`);
      const live = Number((await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM entries WHERE folder_id = ? AND deleted = 0', [folderId]))?.n ?? 0);
      if (live > 0) {
        throw new FerryError('conflict', `${folderId} holds ${live} ${live === 1 ? 'file or folder' : 'files and folders'}: a folder with content is not removed; delete them from a device that syncs it first. Nothing was removed`);
      }
      const kept = await this.db.get<{ n: number; newest: number | null }>('SELECT COUNT(DISTINCT path) AS n, MAX(modified_at) AS newest FROM versions WHERE folder_id = ?', [folderId]);
      const paths = Number(kept?.n ?? 0);
      if (paths > 0) {
        const newest = new Date(Number(kept?.newest)).toISOString();
        throw new FerryError(
          'conflict',
          `${folderId} keeps the history of ${paths === 1 ? '1 deleted file or folder' : `${paths} deleted files and folders`} (the newest change of ${newest}): it can be restored from, so it is not removed; the retention prunes it in time (30 days after by default: ferry server --keep-versions). Nothing was removed`,
        );
      }
      if (await this.db.get("SELECT id FROM tasks WHERE folder_id = ? AND status IN ('Queued', 'Processing')", [folderId])) {
        throw new FerryError('conflict', `A batch is being applied to ${folderId}: try again once it is done. Nothing was removed`, { retryable: true });
      }
      const access = await this.db.all<{ name: string; role: string }>('SELECT u.name, a.role FROM folder_access a JOIN users u ON u.id = a.user_id WHERE a.folder_id = ? ORDER BY u.name', [folderId]);
      const reportedBy = (await this.db.all<{ name: string }>('SELECT name FROM device_reports WHERE folder_id = ? ORDER BY reported_at DESC', [folderId])).map((r) => r.name);
      // Its finished tasks too: a later folder of this id must not show their paths to its owner.
      await this.db.run('DELETE FROM task_results WHERE task_id IN (SELECT id FROM tasks WHERE folder_id = ?)', [folderId]);
      for (const table of ['folder_access', 'folder_blocks', 'device_reports', 'entries', 'tasks']) await this.db.run(`DELETE FROM ${table} WHERE folder_id = ?`, [folderId]);
      await this.db.run('DELETE FROM folders WHERE id = ?', [folderId]);
      return { folder: folderId, owner: access.find((a) => a.role === 'owner')?.name ?? null, sharedWith: access.filter((a) => a.role === 'shared').map((a) => a.name), reportedBy };
    });
  }

  async createPairingCode(userName: string): Promise<{ code: string; expiresAt: number }> {
    const user = await this.existingUser(userName);
    const now = this.clock();
    const code = newPairingCode();
    const expiresAt = now + PAIRING_CODE_TTL_MS;
    await this.db.run('DELETE FROM pairing_codes WHERE expires_at < ?', [now - PAIRING_CODE_TTL_MS]);
    // Only while the user is one: a removal between the look-up and here leaves no code (its trade is refused besides).
    const made = await this.db.run('INSERT INTO pairing_codes (code_hash, user_id, created_at, expires_at) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ? AND removed_at IS NULL)', [
      sha256(normalizePairingCode(code)),
      user.id,
      now,
      expiresAt,
      user.id,
    ]);
    if (made === 0) await this.existingUser(userName);
    return { code, expiresAt };
  }

  redeemPairingCode(code: string, deviceName: string, replaces?: string): Promise<{ device: DeviceInfo; token: string; replaced: string | null }> {
    const codeHash = sha256(normalizePairingCode(code));
    return this.db.tx(async () => {
      // FOR UPDATE on PostgreSQL: two processes trading one code at once, only one wins.
      const lock = this.db.dialect === 'postgres' ? ' FOR UPDATE' : '';
      const row = await this.db.get<{ user_id: number; expires_at: number; used_at: number | null }>(`SELECT user_id, expires_at, used_at FROM pairing_codes WHERE code_hash = ?${lock}`, [codeHash]);
      const now = this.clock();
      if (!row) throw pairingError('pairing_code_invalid', 'This pairing code is not known to the server: check it, or make a new one with `ferry server pair`');
      if (row.used_at !== null) throw pairingError('pairing_code_used', 'This pairing code was used already: make a new one with `ferry server pair`');
      if (now >= row.expires_at) throw pairingError('pairing_code_expired', 'This pairing code expired (codes last 10 minutes): make a new one with `ferry server pair`');
      // Its user removed meanwhile (a code made as the removal ran): no device of nobody (found by
      // review). FOR SHARE on PostgreSQL: a removal running now waits for this trade, then signs its device out.
      const owner = await this.db.get<{ removed_at: number | null }>(`SELECT removed_at FROM users WHERE id = ?${this.db.dialect === 'postgres' ? ' FOR SHARE' : ''}`, [row.user_id]);
      if (!owner || owner.removed_at !== null) throw pairingError('pairing_code_invalid', "This pairing code's user was removed from the server: ask its admin for a code of your user");
      await this.db.run('UPDATE pairing_codes SET used_at = ? WHERE code_hash = ?', [now, codeHash]);
      const token = DEVICE_TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const id = randomUUID();
      await this.db.run('INSERT INTO devices (id, user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)', [id, row.user_id, deviceName, sha256(token), now]);
      const device = (await this.db.get<DeviceRow>(`${DEVICE_SELECT} WHERE d.id = ?`, [id])) as DeviceRow;
      let replaced: string | null = null;
      if (replaces !== undefined) {
        const old = await this.db.get<{ id: string }>('SELECT id FROM devices WHERE token_hash = ? AND revoked_at IS NULL', [sha256(replaces)]);
        if (old && (await this.db.run('UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, old.id])) === 1) replaced = old.id;
      }
      return { device: toDevice(device), token, replaced };
    });
  }

  async deviceByToken(token: string): Promise<(DeviceInfo & { userId: number }) | undefined> {
    const row = await this.db.get<DeviceRow>(`${DEVICE_SELECT} WHERE d.token_hash = ?`, [sha256(token)]);
    if (!row) return undefined;
    const now = this.clock();
    if (row.revoked_at === null && (row.last_seen_at === null || now - row.last_seen_at >= LAST_SEEN_EVERY_MS)) {
      await this.db.run('UPDATE devices SET last_seen_at = ? WHERE id = ?', [now, row.id]);
      row.last_seen_at = now;
    }
    return { ...toDevice(row), userId: row.user_id };
  }

  async devices(userName?: string): Promise<DeviceInfo[]> {
    if (userName === undefined) return (await this.db.all<DeviceRow>(`${DEVICE_SELECT} ORDER BY u.name, d.created_at`)).map(toDevice);
    const user = await this.existingUser(userName);
    return (await this.db.all<DeviceRow>(`${DEVICE_SELECT} WHERE d.user_id = ? ORDER BY d.created_at`, [user.id])).map(toDevice);
  }

  async revoke(deviceId: string): Promise<boolean> {
    const row = await this.db.get<{ revoked_at: number | null }>('SELECT revoked_at FROM devices WHERE id = ?', [deviceId]);
    if (!row) throw new FerryError('not_found', `No device '${deviceId}' (list them with: ferry server devices)`);
    if (row.revoked_at !== null) return false;
    await this.db.run('UPDATE devices SET revoked_at = ? WHERE id = ?', [this.clock(), deviceId]);
    return true;
  }

  async revoked(deviceId: string): Promise<boolean> {
    const row = await this.db.get<{ revoked_at: number | null }>('SELECT revoked_at FROM devices WHERE id = ?', [deviceId]);
    return row === undefined || row.revoked_at !== null;
  }

  async share(folderId: string, userName: string): Promise<boolean> {
    const user = await this.existingUser(userName);
    return this.db.tx(async () => {
      if (!(await folderHeld(this.db, folderId, 'share'))) throw new FerryError('not_found', `No folder '${folderId}' on this server`);
      return (await this.db.run("INSERT INTO folder_access (folder_id, user_id, role) VALUES (?, ?, 'shared') ON CONFLICT DO NOTHING", [folderId, user.id])) === 1;
    });
  }

  async unshare(folderId: string, userName: string): Promise<boolean> {
    const user = await this.existingUser(userName);
    const row = await this.db.get<{ role: string }>('SELECT role FROM folder_access WHERE folder_id = ? AND user_id = ?', [folderId, user.id]);
    if (!row) {
      if (!(await this.db.get('SELECT 1 AS one FROM folders WHERE id = ?', [folderId]))) throw new FerryError('not_found', `No folder '${folderId}' on this server`);
      return false;
    }
    // The owner's own devices made it; taken from them, it would be nobody's user's, with no one to share it again.
    if (row.role === 'owner') throw new FerryError('invalid_request', `${userName} owns ${folderId} (their device made it), and an owner keeps it: to stop syncing it on one of their devices, remove the folder in that device's Settings`);
    return (await this.db.run('DELETE FROM folder_access WHERE folder_id = ? AND user_id = ?', [folderId, user.id])) === 1;
  }

  async users(): Promise<UserListing[]> {
    const rows = await this.db.all<{ id: number; name: string; created_at: number; devices: number; live: number }>(
      `SELECT u.id, u.name, u.created_at, COUNT(d.id) AS devices, COUNT(d.id) - COUNT(d.revoked_at) AS live
       FROM users u LEFT JOIN devices d ON d.user_id = u.id WHERE u.removed_at IS NULL GROUP BY u.id, u.name, u.created_at ORDER BY u.name`,
    );
    return rows.map((r) => ({ id: Number(r.id), name: r.name, createdAt: Number(r.created_at), devices: Number(r.devices), liveDevices: Number(r.live) }));
  }

  async folders(userName?: string): Promise<FolderListing[]> {
    const only = userName === undefined ? undefined : await this.existingUser(userName);
    const folders = await this.db.all<{ id: string; created_at: number }>(
      only === undefined ? 'SELECT id, created_at FROM folders ORDER BY id' : 'SELECT f.id, f.created_at FROM folders f JOIN folder_access a ON a.folder_id = f.id WHERE a.user_id = ? ORDER BY f.id',
      only === undefined ? [] : [only.id],
    );
    const access = await this.db.all<{ folder_id: string; name: string; role: string }>('SELECT a.folder_id, u.name, a.role FROM folder_access a JOIN users u ON u.id = a.user_id ORDER BY u.name');
    const byFolder = new Map<string, typeof access>();
    for (const a of access) byFolder.set(a.folder_id, [...(byFolder.get(a.folder_id) ?? []), a]);
    return folders.map((f) => {
      const mine = byFolder.get(f.id) ?? [];
      return { id: f.id, createdAt: Number(f.created_at), owner: mine.find((a) => a.role === 'owner')?.name ?? null, sharedWith: mine.filter((a) => a.role === 'shared').map((a) => a.name) };
    });
  }

  async claimFolder(folderId: string, userId: number): Promise<void> {
    await this.db.tx(async () => {
      // Removed since it was made: nothing to own.
      if (!(await folderHeld(this.db, folderId, 'share'))) return;
      // Only a folder nobody reaches yet gets an owner: creating an existing folder claims nothing.
      await this.db.run(
        "INSERT INTO folder_access (folder_id, user_id, role) SELECT CAST(? AS TEXT), CAST(? AS INTEGER), 'owner' WHERE NOT EXISTS (SELECT 1 FROM folder_access WHERE folder_id = ?) ON CONFLICT DO NOTHING",
        [folderId, userId, folderId],
      );
    });
  }

  async adoptUnownedFolders(userName: string): Promise<number> {
    const user = await this.existingUser(userName);
    return this.db.run(
      "INSERT INTO folder_access (folder_id, user_id, role) SELECT f.id, CAST(? AS INTEGER), 'owner' FROM folders f WHERE NOT EXISTS (SELECT 1 FROM folder_access a WHERE a.folder_id = f.id) ON CONFLICT DO NOTHING",
      [user.id],
    );
  }

  async reachable(userId: number, folderId: string): Promise<boolean> {
    return (await this.db.get('SELECT 1 AS one FROM folder_access WHERE folder_id = ? AND user_id = ?', [folderId, userId])) !== undefined;
  }

  async reachableFolders(userId: number): Promise<Set<string>> {
    return new Set((await this.db.all<{ folder_id: string }>('SELECT folder_id FROM folder_access WHERE user_id = ?', [userId])).map((r) => r.folder_id));
  }

  async readableBlocks(userId: number, hashes: readonly string[]): Promise<Set<string>> {
    const readable = new Set<string>();
    for (const hash of new Set(hashes)) {
      const row = await this.db.get(
        `SELECT 1 AS one FROM block_uploads WHERE hash = ? AND user_id = ?
         UNION ALL
         SELECT 1 AS one FROM folder_blocks b JOIN folder_access a ON a.folder_id = b.folder_id WHERE b.hash = ? AND a.user_id = ?
         LIMIT 1`,
        [hash, userId, hash, userId],
      );
      if (row !== undefined) readable.add(hash);
    }
    return readable;
  }

  async recordUploads(userId: number, hashes: readonly string[]): Promise<void> {
    await this.db.tx(async () => {
      for (const hash of new Set(hashes)) await this.db.run('INSERT INTO block_uploads (hash, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING', [hash, userId]);
    });
  }
}
