import path from 'node:path';
import { parseArgs } from 'node:util';
import { FerryError, isFerryError } from '../protocol';
import { ensurePrivateDir, restrictFilesIn } from '../main/private-files';
import { SqlAccounts, USER_NAME_PATTERN, USER_NAME_RULE, type Accounts, type DeviceInfo, type FolderListing, type FolderRemoval, type UserListing, type UserRemoval } from './accounts';
import { reportsByCredential, type ReportedDevice } from './device-reports';
import { listLostBlocks, type LostBlockListing } from './lost-blocks';
import { existsSync } from 'node:fs';
import { openSqliteMetadata, sqliteFile } from './storage/db';
import type { SqlDb } from './storage/sql';
import { checkPostgresUrl } from './storage/urls';

export const ACCOUNTS_USAGE = `Usage: ferry server <command> (--data DIR | --db postgres://…) [options]

Manages the users and devices of a server (it may be running), and lists the blocks its storage
lost: in its data directory's SQLite database, or, for servers on PostgreSQL, in the database
they share.

Commands:
  user add NAME                  add a user
  user list [--json]             list the users, with their devices (live, and revoked)
  user remove NAME [--folders-to OTHER]
                                 remove a user: signs out every device of theirs and drops the
                                 folders shared with them; the folders they own must go to
                                 OTHER, who then owns them (the files on the server stay).
                                 Their devices stay listed; NAME can be added again, as a new user
  pair --user NAME               print a one-time pairing code for a new device of NAME
                                 (valid 10 minutes; trade it with: ferry agent --pair CODE)
  devices [--user NAME] [--json] list paired devices, each with the id its agent goes by (AGENT)
  revoke DEVICE                  sign a device out: its next request is refused (DEVICE: its id,
                                 or its AGENT id, as 'ferry status' shows it there)
  share FOLDER --with NAME       let NAME's devices sync FOLDER too
  unshare FOLDER --from NAME     take a shared FOLDER away from NAME's devices (their files stay
                                 on their computers; the folder's owner keeps it)
  folders [--user NAME] [--json] list the folders (those NAME reaches), each with its owner and
                                 whom it is shared with
  folder remove FOLDER           remove a folder that holds nothing (no file, no history): one
                                 made by mistake. A device that still syncs it makes it again
                                 at its next pull
  lost-blocks [--json]           blocks the server found gone from its storage, with the files
                                 that need them (docs/sync-api.md, "Lost blocks")

Options:
  --data DIR                     the server's data directory (its server.db)
  --db postgres://…              the servers' PostgreSQL database instead (the URL
                                 given to 'ferry server --db'); one of the two is required
  --folders-to OTHER             (user remove) the user who gets the removed user's folders
  -h, --help                     show this help
`;

/** The `ferry server` words that manage accounts instead of running the server. */
export const ACCOUNT_COMMANDS: ReadonlySet<string> = new Set(['user', 'pair', 'devices', 'revoke', 'share', 'unshare', 'folders', 'folder', 'lost-blocks']);

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  now?: () => number;
}

const defaultIo: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

class UsageError extends Error {}

/** Runs one account command; 0 done, 1 refused (no such user…), 2 usage error. */
export async function runAccountsCommand(argv: string[], io: Io = defaultIo): Promise<number> {
  let values: { data?: string; db?: string; user?: string; with?: string; from?: string; 'folders-to'?: string; json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        data: { type: 'string' },
        db: { type: 'string' },
        user: { type: 'string' },
        with: { type: 'string' },
        from: { type: 'string' },
        'folders-to': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    io.err(`ferry server: ${(error as Error).message}\n\n${ACCOUNTS_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(ACCOUNTS_USAGE);
    return 0;
  }
  if ((values.data === undefined) === (values.db === undefined)) {
    io.err(`ferry server: give --data DIR or --db postgres://… (one of them)\n\n${ACCOUNTS_USAGE}`);
    return 2;
  }
  // A typo in --data made a new, empty server store, and the pairing code it printed was unknown
  // to the real server (a new-user try): only the first `user add` may start a store.
  const starting = values.data !== undefined && !existsSync(sqliteFile(path.resolve(values.data)));
  // Nor a `user add` that is refused anyway (no name, a bad one): checked before the store is made.
  if (starting && positionals[0] === 'user' && positionals[1] === 'add' && (positionals.length !== 3 || !USER_NAME_PATTERN.test(positionals[2]!))) {
    io.err(`ferry server: ${positionals.length !== 3 ? 'user add takes NAME' : USER_NAME_RULE}\n`);
    return positionals.length !== 3 ? 2 : 1;
  }
  if (starting && !(positionals[0] === 'user' && positionals[1] === 'add')) {
    io.err(`ferry server: no Ferry server data in ${path.resolve(values.data!)} (no server.db): check --data; a new server starts with 'ferry server --data DIR' or 'ferry server user add NAME --data DIR'\n`);
    return 1;
  }
  let db: SqlDb;
  try {
    db = await openAccountsDb(values);
  } catch (error) {
    if (!isFerryError(error)) throw error;
    io.err(`ferry server: ${error.message}\n`);
    return error.details?.usage === true ? 2 : 1;
  }
  try {
    if (positionals[0] === 'lost-blocks') return await lostBlocks(db, positionals, values, io);
    return await run(new SqlAccounts(db, io.now), positionals, values, io, () => reportsByCredential(db), starting ? path.resolve(values.data!) : undefined);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`ferry server: ${error.message}\n\n${ACCOUNTS_USAGE}`);
      return 2;
    }
    if (isFerryError(error)) {
      io.err(`ferry server: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await db.close();
  }
}

/** The data directory's SQLite database (made private, as the server makes it), or the shared PostgreSQL one. */
async function openAccountsDb(values: { data?: string; db?: string }): Promise<SqlDb> {
  if (values.db !== undefined) {
    checkPostgresUrl(values.db);
    const { openPostgresMetadata } = await import('./storage/postgres');
    return openPostgresMetadata(values.db);
  }
  const dataDir = path.resolve(values.data as string);
  ensurePrivateDir(dataDir);
  const db = openSqliteMetadata(dataDir);
  restrictFilesIn(dataDir);
  return db;
}

/** `newStore`: the data directory this command started (its first `user add`), said so. */
async function run(accounts: Accounts, words: string[], values: { user?: string; with?: string; from?: string; 'folders-to'?: string; json?: boolean }, io: Io, reports: () => Promise<Map<string, ReportedDevice>>, newStore?: string): Promise<number> {
  const [command, ...rest] = words;
  const only = (n: number, what: string): string[] => {
    if (rest.length !== n) throw new UsageError(`${command} takes ${what}`);
    return rest;
  };
  switch (command) {
    case 'user': {
      if (rest[0] === 'list') {
        only(1, 'list (--json is an option)');
        const users = await accounts.users();
        io.out(values.json ? `${JSON.stringify(users.map((u) => ({ name: u.name, createdAt: iso(u.createdAt), devices: u.devices, liveDevices: u.liveDevices })), null, 2)}\n` : userTable(users));
        return 0;
      }
      const [verb, name] = only(2, 'add NAME, remove NAME, or list');
      if (verb === 'remove') {
        io.out(removalLine(await accounts.removeUser(name as string, values['folders-to'])));
        return 0;
      }
      if (verb !== 'add') throw new UsageError(`unknown: user ${verb ?? ''}`);
      const user = await accounts.addUser(name as string);
      io.out(`Added user ${user.name}${newStore !== undefined ? ` (a new server's data in ${newStore})` : ''}\n`);
      return 0;
    }
    case 'pair': {
      only(0, '--user NAME');
      if (!values.user) throw new UsageError('pair needs --user NAME');
      const { code, expiresAt } = await accounts.createPairingCode(values.user);
      io.out(`Pairing code for ${values.user}: ${code}\nValid until ${new Date(expiresAt).toISOString()}, once. On the device: ferry agent --server URL --pair ${code} … (and --ca FILE when a private CA signed the server's certificate)\n`);
      return 0;
    }
    case 'devices': {
      only(0, 'no words (--user NAME and --json are options)');
      const devices = await accounts.devices(values.user);
      const byCredential = await reports();
      const listed = devices.map((d) => ({ ...d, agents: byCredential.get(d.id)?.agents ?? [], reportedName: byCredential.get(d.id)?.name }));
      io.out(values.json ? `${JSON.stringify(listed.map(deviceJson), null, 2)}\n` : deviceTable(listed));
      return 0;
    }
    case 'revoke': {
      const [given] = only(1, 'DEVICE (an id from `ferry server devices`)');
      const byCredential = await reports();
      const device = await deviceNamed(accounts, byCredential, given as string);
      // Named as `ferry server devices` names it: by what it reports, its pairing's name beside (a new-user try).
      const which = `${device.id} (${nameOf({ ...device, reportedName: byCredential.get(device.id)?.name })} of ${device.user})`;
      io.out((await accounts.revoke(device.id)) ? `Revoked device ${which}: its next request is refused\n` : `Device ${which} was revoked already\n`);
      return 0;
    }
    case 'share': {
      const [folder] = only(1, 'FOLDER --with NAME');
      if (!values.with) throw new UsageError('share needs --with NAME');
      io.out((await accounts.share(folder as string, values.with)) ? `Shared ${folder} with ${values.with}: their devices that sync it pick it up within a minute (at once with 'ferry sync-now' there)\n` : `${values.with} already reaches ${folder}\n`);
      return 0;
    }
    case 'unshare': {
      const [folder] = only(1, 'FOLDER --from NAME');
      if (!values.from) throw new UsageError('unshare needs --from NAME');
      io.out((await accounts.unshare(folder as string, values.from)) ? `${values.from}'s devices no longer reach ${folder}: their next request about it is refused (within a minute for one that waits on the server), and their files stay on their computers\n` : `${folder} was not shared with ${values.from}\n`);
      return 0;
    }
    case 'folder': {
      if (rest[0] !== 'remove') throw new UsageError(`unknown: folder ${rest[0] ?? ''} (folder remove FOLDER; 'folders' lists them)`);
      const [, folder] = only(2, 'remove FOLDER');
      io.out(folderRemovalLine(await accounts.removeFolder(folder as string)));
      return 0;
    }
    case 'folders': {
      only(0, 'no words (--user NAME and --json are options)');
      const folders = await accounts.folders(values.user);
      io.out(values.json ? `${JSON.stringify(folders.map((f) => ({ ...f, createdAt: iso(f.createdAt) })), null, 2)}\n` : folderTable(folders));
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${command ?? ''}'`);
  }
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** What `user remove` did, in one line. */
function removalLine(r: UserRemoval): string {
  const folders = r.foldersMoved.length === 0 ? 'no folders of theirs' : `${r.foldersMoved.length === 1 ? 'folder' : 'folders'} ${r.foldersMoved.join(', ')} now owned by ${r.foldersTo}`;
  return `Removed user ${r.user}: ${count(r.signedOut, 'device', 'devices')} signed out (refused from their next request), ${count(r.sharesDropped, 'share', 'shares')} dropped, ${folders}; no file on the server was deleted\n`;
}

/** How much of an id names a device: what the AGENT column and `ferry status` show. */
const SHORT_ID = 8;

/**
 * The credential `given` names: its DEVICE id, or the id its agent goes by (what `ferry status`
 * on that computer shows), whole or its first 8 characters or more. A computer paired again has
 * one live credential: that one. More than one live match is refused, naming them.
 */
async function deviceNamed(accounts: Accounts, byCredential: Map<string, ReportedDevice>, given: string): Promise<DeviceInfo> {
  const all = await accounts.devices();
  const exact = all.find((d) => d.id === given);
  if (exact) return exact;
  const names = (d: DeviceInfo) => [d.id, ...(byCredential.get(d.id)?.agents ?? [])];
  const matches = given.length < SHORT_ID ? [] : all.filter((d) => names(d).some((id) => id.startsWith(given)));
  const live = matches.filter((d) => d.revokedAt === null);
  const pick = live.length > 0 ? live : matches.slice(-1);
  if (pick.length === 1) return pick[0]!;
  if (pick.length === 0) {
    throw new FerryError('not_found', `No device '${given}': give its DEVICE id or its AGENT id (${SHORT_ID} characters or more), as \`ferry server devices\` lists them`);
  }
  throw new FerryError('invalid_request', `'${given}' names ${pick.length} devices (${pick.map((d) => d.id).join(', ')}): give the whole DEVICE id`);
}

async function lostBlocks(db: SqlDb, words: string[], values: { json?: boolean }, io: Io): Promise<number> {
  if (words.length !== 1) throw new UsageError('lost-blocks takes no words (--json is an option)');
  const listing = await listLostBlocks(db);
  if (values.json) {
    io.out(`${JSON.stringify(listing.map((l) => ({ ...l, noticedAt: iso(l.noticedAt) })), null, 2)}\n`);
    return 0;
  }
  if (listing.length === 0) {
    io.out('No lost blocks\n');
    return 0;
  }
  const files = (l: LostBlockListing) => (l.files.length === 0 ? 'only earlier versions' : l.files.map((f) => `${f.folderId}/${f.path} (revision ${f.revision})`).join(', '));
  io.out(
    `${listing.length} ${listing.length === 1 ? 'block' : 'blocks'} lost. Each comes back once a device that holds the same bytes reports on its folder\n` +
      '(a running agent with the file does so within a minute); otherwise put the file back into a synced folder from a backup.\n' +
      table(['BLOCK', 'NOTICED', 'FILES'], listing.map((l) => [l.hash.slice(0, 16), minute(l.noticedAt) ?? '', files(l)])),
  );
  return 0;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
/** For the table: to the minute, UTC. The server writes "last seen" at most once a minute (accounts.ts). */
const minute = (ms: number | null): string | null => (ms === null ? null : `${new Date(ms).toISOString().slice(0, 16)}Z`);

/**
 * A credential, the agent ids it reported under (`agents`: how `ferry devices` names that
 * computer) and the name its latest report gave.
 */
type ListedDevice = DeviceInfo & { agents: string[]; reportedName: string | undefined };

/** The device's name now; the one it was paired under too when it was renamed since (found by a new-user try). */
const nameOf = (d: Pick<ListedDevice, 'name' | 'reportedName'>): string => (d.reportedName === undefined || d.reportedName === d.name ? d.name : `${d.reportedName} (named ${d.name} when paired)`);

function deviceJson(d: ListedDevice): Record<string, unknown> {
  return { id: d.id, name: d.name, ...(d.reportedName !== undefined ? { reportedName: d.reportedName } : {}), user: d.user, agents: d.agents, createdAt: iso(d.createdAt), lastSeenAt: iso(d.lastSeenAt), revokedAt: iso(d.revokedAt), userRemovedAt: iso(d.userRemovedAt) };
}

function deviceTable(devices: ListedDevice[]): string {
  if (devices.length === 0) return 'No paired devices\n';
  // AGENT: the short id `ferry status` and `ferry devices` show for that computer ("device 105a5726").
  // A removed user's devices stay listed under the name they had (another user may have it now).
  const rows = devices.map((d) => [d.id, d.userRemovedAt !== null ? `${d.user} (removed)` : d.user, nameOf(d), d.agents.map((a) => a.slice(0, 8)).join(',') || '-', minute(d.createdAt) ?? '', d.revokedAt !== null ? `revoked ${minute(d.revokedAt)}` : `last seen ${minute(d.lastSeenAt) ?? 'never'}`]);
  return table(['DEVICE', 'USER', 'NAME', 'AGENT', 'PAIRED', 'STATE'], rows);
}

function userTable(users: UserListing[]): string {
  if (users.length === 0) return 'No users (add one with: ferry server user add NAME)\n';
  return table(['USER', 'ADDED', 'DEVICES'], users.map((u) => [u.name, minute(u.createdAt) ?? '', `${u.liveDevices} live${u.devices > u.liveDevices ? `, ${u.devices - u.liveDevices} revoked` : ''}`]));
}

function folderRemovalLine(r: FolderRemoval): string {
  const whose = r.owner === null ? 'nobody owned it' : `owned by ${r.owner}`;
  const shared = r.sharedWith.length === 0 ? '' : `, shared with ${r.sharedWith.join(', ')}`;
  const devices = [...new Set(r.reportedBy)];
  const reported =
    devices.length === 0
      ? 'no device reported on it'
      : `${count(devices.length, 'device', 'devices')} reported on it (${devices.join(', ')}): a device that still syncs it makes it again at its next pull, remove it from that device's settings`;
  return `Removed folder ${r.folder} (${whose}${shared}): it held no file and no history; ${reported}\n`;
}

function folderTable(folders: FolderListing[]): string {
  if (folders.length === 0) return 'No folders\n';
  // A folder made with the server token is nobody's: devices reach it once it is shared (docs/sync-api.md, "Isolation").
  return table(['FOLDER', 'OWNER', 'SHARED WITH', 'MADE'], folders.map((f) => [f.id, f.owner ?? '- (server token)', f.sharedWith.join(', ') || '-', minute(f.createdAt) ?? '']));
}

/** Columns padded to their widest cell, two spaces apart. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n') + '\n';
}
