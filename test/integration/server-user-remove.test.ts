import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchCompletedReply, ChangesPage, normalizePairingCode } from '../../protocol';
import { configureLogging } from '../../main/logging';
import { runAccountsCommand } from '../../server/accounts-cli';
import { metricSample } from '../helpers/raw-http';
import { startTestServer, tableRows, testFile, upsert, waitUntil, type TestServer } from '../helpers/server-harness';

// `ferry server user remove NAME [--folders-to OTHER]` against a real server on loopback, its
// accounts changed through the CLI's entry (`--data DIR`, or `--db URL` in the postgres project).

let t: TestServer;
let logFile = '';
/** Every token and pairing code this file handled: none may reach the server's log. */
const secrets: string[] = [];

beforeAll(async () => {
  t = await startTestServer();
  logFile = path.join(t.dataDir, 'logs', 'user-remove-test.log');
  configureLogging({ level: 'debug', file: logFile, console: false });
});
afterAll(async () => {
  configureLogging({ level: 'warn', console: false });
  await t.close();
});

async function cli(words: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAccountsCommand([...words, ...t.accountFlags], { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

async function pairingCode(user: string): Promise<string> {
  const { code, out } = await cli(['pair', '--user', user]);
  expect(code).toBe(0);
  const pairing = /: ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})\n/.exec(out)?.[1] as string;
  secrets.push(pairing);
  return pairing;
}

/** One statement written into the server's database beside it, as another process would. */
async function sqlWrite(server: TestServer, sql: string, params: Array<string | number>): Promise<void> {
  const [flag, where] = server.accountFlags as [string, string];
  if (flag === '--db') {
    const client = new pg.Client({ connectionString: where });
    await client.connect();
    try {
      await client.query(sql.replace(/\?/g, (() => { let n = 0; return () => `$${++n}`; })()), params);
    } finally {
      await client.end();
    }
    return;
  }
  const db = new Database(path.join(where, 'server.db'));
  try {
    db.pragma('busy_timeout = 5000');
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

const pair = (code: string, deviceName: string) => t.request('POST', '/v1/pair', { token: null, body: { code, deviceName } });

async function device(user: string, name: string): Promise<{ id: string; token: string }> {
  const res = await pair(await pairingCode(user), name);
  expect(res.status).toBe(201);
  secrets.push(res.body.token);
  return { id: res.body.deviceId, token: res.body.token };
}

async function addUser(name: string): Promise<void> {
  expect(await cli(['user', 'add', name])).toMatchObject({ code: 0, out: `Added user ${name}\n` });
}

/** A folder made by the device (its user owns it), with one file in it. */
async function ownedFolder(token: string, folder: string, file = testFile(`in ${folder}`)): Promise<void> {
  expect((await t.request('PUT', `/v1/folders/${folder}`, { token })).status).toBe(201);
  expect((await t.request('PUT', `/v1/blocks/${file.hash}`, { token, raw: file.data })).status).toBe(201);
  const res = await t.request('POST', `/v1/folders/${folder}/sync?mode=sync`, { token, body: { operations: [upsert('k', 'a.txt', file, null)] } });
  expect(BatchCompletedReply.parse(res.body).results.k?.ok).toBe(true);
}

const folderList = async (token: string): Promise<string[]> => ((await t.request('GET', '/v1/folders', { token })).body.folders as Array<{ id: string }>).map((f) => f.id);
type FolderJson = { id: string; owner: string | null; sharedWith: string[] };
const foldersJson = async (): Promise<FolderJson[]> => JSON.parse((await cli(['folders', '--json'])).out) as FolderJson[];
const userNames = async (): Promise<string[]> => (JSON.parse((await cli(['user', 'list', '--json'])).out) as Array<{ name: string }>).map((u) => u.name);
type DeviceJson = { id: string; user: string; revokedAt: string | null; userRemovedAt: string | null };
const devicesJson = async (words: string[] = []): Promise<DeviceJson[]> => JSON.parse((await cli(['devices', '--json', ...words])).out) as DeviceJson[];

describe('user remove', () => {
  it('signs out every device of the user as revoke does, drops the folders shared with them, and refuses them from then on', async () => {
    await addUser('alice');
    await addUser('bob');
    await addUser('carol');
    const phone = await device('alice', 'alice-phone');
    const laptop = await device('alice', 'alice-laptop');
    const old = await device('alice', 'alice-old');
    expect((await cli(['revoke', old.id])).code).toBe(0);
    const bobs = await device('bob', 'bob-desk');
    const carols = await device('carol', 'carol-desk');
    await ownedFolder(bobs.token, 'bob-docs');
    await ownedFolder(carols.token, 'carol-notes');
    expect((await cli(['share', 'bob-docs', '--with', 'alice'])).code).toBe(0);
    expect((await cli(['share', 'carol-notes', '--with', 'alice'])).code).toBe(0);
    expect((await cli(['share', 'carol-notes', '--with', 'bob'])).code).toBe(0);
    expect((await folderList(phone.token)).sort()).toEqual(['bob-docs', 'carol-notes']);
    const oldRevokedAt = (await devicesJson()).find((d) => d.id === old.id)?.revokedAt;
    expect(oldRevokedAt).toEqual(expect.any(String));
    // A code made before the removal and not traded yet.
    const pending = await pairingCode('alice');

    const removed = await cli(['user', 'remove', 'alice']);
    expect(removed).toEqual({
      code: 0,
      out: 'Removed user alice: 2 devices signed out (refused from their next request), 2 shares dropped, no folders of theirs; no file on the server was deleted\n',
      err: '',
    });

    // Refused with the reason a `revoke` gives, on every credential; others' devices untouched.
    for (const token of [phone.token, laptop.token]) {
      const refused = await t.request('GET', '/v1/folders', { token });
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('device_revoked');
      expect((await t.request('GET', '/v1/folders/bob-docs/changes', { token })).body.code).toBe('device_revoked');
    }
    expect((await t.request('GET', '/v1/folders/bob-docs/changes', { token: bobs.token })).status).toBe(200);
    expect((await folderList(bobs.token)).sort()).toEqual(['bob-docs', 'carol-notes']);
    // Shares gone, owners and others' shares kept.
    expect((await foldersJson()).filter((f) => ['bob-docs', 'carol-notes'].includes(f.id))).toEqual([
      expect.objectContaining({ id: 'bob-docs', owner: 'bob', sharedWith: [] }),
      expect.objectContaining({ id: 'carol-notes', owner: 'carol', sharedWith: ['bob'] }),
    ]);
    // Gone from the users; pairing refused, the code made before too.
    // (listed by no name of theirs: nor the one their row is kept under)
    expect((await userNames()).filter((n) => n.startsWith('alice'))).toEqual([]);
    expect(await userNames()).toEqual(expect.arrayContaining(['bob', 'carol']));
    const pairing = await cli(['pair', '--user', 'alice']);
    expect(pairing).toMatchObject({ code: 1, out: '', err: expect.stringMatching(/^ferry server: User 'alice' was removed \(\d{4}-.*\): to have alice again, add them as a new user with: ferry server user add alice\n$/) });
    const traded = await pair(pending, 'late');
    expect(traded.status).toBe(400);
    expect(traded.body.code).toBe('pairing_code_invalid');
    // Nor can anything else name them now.
    expect(await cli(['share', 'bob-docs', '--with', 'alice'])).toMatchObject({ code: 1, err: expect.stringContaining("User 'alice' was removed") });
    expect(await cli(['user', 'remove', 'alice'])).toMatchObject({ code: 1, err: expect.stringContaining("User 'alice' was removed") });
    // Their devices stay listed, attributable, signed out; the one revoked before keeps its time.
    const listed = (await devicesJson()).filter((d) => [phone.id, laptop.id, old.id].includes(d.id));
    expect(listed).toHaveLength(3);
    for (const d of listed) expect(d).toMatchObject({ user: 'alice', revokedAt: expect.any(String), userRemovedAt: expect.any(String) });
    expect(listed.find((d) => d.id === old.id)?.revokedAt).toBe(oldRevokedAt);
    expect((await devicesJson()).find((d) => d.id === bobs.id)).toMatchObject({ user: 'bob', revokedAt: null, userRemovedAt: null });
    expect((await cli(['devices'])).out).toMatch(new RegExp(`^${phone.id}\\s+alice \\(removed\\)\\s+alice-phone\\s.*\\srevoked \\d{4}-`, 'm'));
    expect((await cli(['revoke', phone.id])).out).toBe(`Device ${phone.id} (alice-phone of alice) was revoked already\n`);
  });

  it('refuses a user who owns folders, naming them, changing nothing; --folders-to gives them to another user, files kept', async () => {
    await addUser('dave');
    await addUser('erin');
    await addUser('frank');
    const daves = await device('dave', 'dave-laptop');
    const erins = await device('erin', 'erin-laptop');
    const franks = await device('frank', 'frank-laptop');
    const photo = testFile('a photo of dave');
    await ownedFolder(daves.token, 'd-photos', photo);
    await ownedFolder(daves.token, 'd-docs');
    await ownedFolder(franks.token, 'f-music');
    expect((await cli(['share', 'd-photos', '--with', 'erin'])).code).toBe(0);
    expect((await cli(['share', 'd-photos', '--with', 'frank'])).code).toBe(0);
    expect((await cli(['share', 'f-music', '--with', 'dave'])).code).toBe(0);
    const before = await foldersJson();

    const refused = await cli(['user', 'remove', 'dave']);
    expect(refused).toEqual({
      code: 1,
      out: '',
      err: 'ferry server: dave owns the folders d-docs, d-photos: give them to another user with --folders-to NAME (ferry server user remove dave --folders-to NAME), who then owns them; the files on the server stay. Nothing was removed\n',
    });
    expect(await cli(['user', 'remove', 'dave', '--folders-to', 'dave'])).toEqual({ code: 1, out: '', err: 'ferry server: --folders-to names dave, the user being removed: give the folders to another user\n' });
    expect(await cli(['user', 'remove', 'dave', '--folders-to', 'nobody'])).toMatchObject({ code: 1, out: '', err: expect.stringContaining("No user 'nobody'") });
    // Refused three times, with nothing changed: dave and his device as they were.
    expect(await foldersJson()).toEqual(before);
    expect(await userNames()).toContain('dave');
    expect((await t.request('GET', '/v1/folders/d-docs/changes', { token: daves.token })).status).toBe(200);
    expect((await devicesJson(['--user', 'dave'])).map((d) => d.revokedAt)).toEqual([null]);

    const done = await cli(['user', 'remove', 'dave', '--folders-to', 'erin']);
    expect(done).toEqual({
      code: 0,
      out: 'Removed user dave: 1 device signed out (refused from their next request), 1 share dropped, folders d-docs, d-photos now owned by erin; no file on the server was deleted\n',
      err: '',
    });
    expect((await t.request('GET', '/v1/folders/d-docs/changes', { token: daves.token })).body.code).toBe('device_revoked');
    // erin owns both (her share of d-photos became ownership); frank keeps his share; f-music is dave's no more.
    const after = await foldersJson();
    expect(after.find((f) => f.id === 'd-photos')).toMatchObject({ owner: 'erin', sharedWith: ['frank'] });
    expect(after.find((f) => f.id === 'd-docs')).toMatchObject({ owner: 'erin', sharedWith: [] });
    expect(after.find((f) => f.id === 'f-music')).toMatchObject({ owner: 'frank', sharedWith: [] });
    expect(await cli(['unshare', 'd-docs', '--from', 'erin'])).toMatchObject({ code: 1, err: expect.stringContaining('erin owns d-docs') });
    // The files are all there, for erin's device: the listing and the bytes.
    const changes = await t.request('GET', '/v1/folders/d-photos/changes', { token: erins.token });
    expect(changes.status).toBe(200);
    expect((changes.body.items as Array<{ path: string; deleted?: boolean }>).filter((i) => !i.deleted).map((i) => i.path)).toEqual(['a.txt']);
    const block = await fetch(`${t.server.url}/v1/blocks/${photo.hash}`, { headers: { authorization: `Bearer ${erins.token}`, 'x-ferry-device': 'erin', 'x-ferry-run': 'test;2024-01-01T00:00:00Z' } });
    expect(block.status).toBe(200);
    expect(Buffer.from(await block.arrayBuffer()).equals(photo.data)).toBe(true);
    expect((await folderList(erins.token)).sort()).toEqual(['d-docs', 'd-photos']);
    expect((await t.request('GET', '/v1/folders/d-docs/changes', { token: erins.token })).status).toBe(200);
    expect((await t.request('GET', '/v1/folders/d-photos/changes', { token: franks.token })).status).toBe(200);
    // And she can share them now, as their owner.
    expect((await cli(['share', 'd-docs', '--with', 'frank'])).code).toBe(0);
    expect((await t.request('GET', '/v1/folders/d-docs/changes', { token: franks.token })).status).toBe(200);
  });

  it('lets the name be added again as a new user: nothing of the removed one comes back, and the old devices stay theirs', async () => {
    await addUser('gina');
    await addUser('hank');
    const first = await device('gina', 'gina-laptop');
    const hanks = await device('hank', 'hank-desk');
    await ownedFolder(hanks.token, 'h-shared');
    expect((await cli(['share', 'h-shared', '--with', 'gina'])).code).toBe(0);
    expect((await cli(['user', 'remove', 'gina'])).code).toBe(0);

    await addUser('gina');
    const listed = JSON.parse((await cli(['user', 'list', '--json'])).out) as Array<{ name: string; devices: number; liveDevices: number }>;
    expect(listed.filter((u) => u.name.startsWith('gina'))).toEqual([expect.objectContaining({ name: 'gina', devices: 0, liveDevices: 0 })]);
    expect(await cli(['folders', '--user', 'gina'])).toMatchObject({ code: 0, out: 'No folders\n' });
    expect((await t.request('GET', '/v1/folders', { token: first.token })).body.code).toBe('device_revoked');
    const second = await device('gina', 'gina-new');
    expect(await folderList(second.token)).toEqual([]);
    expect((await t.request('GET', '/v1/folders/h-shared/changes', { token: second.token })).status).toBe(404);
    // The old credential is the removed gina's, the new one the new gina's.
    expect((await devicesJson(['--user', 'gina'])).map((d) => d.id)).toEqual([second.id]);
    const all = await devicesJson();
    expect(all.find((d) => d.id === first.id)).toMatchObject({ user: 'gina', userRemovedAt: expect.any(String) });
    expect(all.find((d) => d.id === second.id)).toMatchObject({ user: 'gina', userRemovedAt: null, revokedAt: null });
    // Removed a second time: both removed ginas are kept apart.
    expect((await cli(['user', 'remove', 'gina'])).out).toMatch(/^Removed user gina: 1 device signed out/);
    expect((await t.request('GET', '/v1/folders', { token: second.token })).body.code).toBe('device_revoked');
    expect((await devicesJson()).filter((d) => d.user === 'gina').map((d) => d.id).sort()).toEqual([first.id, second.id].sort());
    const [users] = (await tableRows(t, ['users'])) as [Array<{ name: string; removed_at: unknown }>];
    expect(users.filter((u) => u.name.startsWith('gina')).map((u) => u.removed_at !== null)).toEqual([true, true]);
  });

  it("refuses a removed user's long poll that was waiting when the removal came, at its wake-up", async () => {
    await addUser('ivan');
    const ivans = await device('ivan', 'ivan-tablet');
    await ownedFolder(ivans.token, 'i-poll');
    const page = ChangesPage.parse((await t.request('GET', '/v1/folders/i-poll/changes', { token: ivans.token })).body);
    const syncToken = new URL(page._links['upcoming-modifications']!.href, 'http://x').searchParams.get('syncToken');
    const waitingNow = async () => metricSample(await (await fetch(`${t.server.url}/metrics`)).text(), 'ferry_long_polls_waiting') ?? 0;
    const before = await waitingNow();
    const poll = t.request('GET', `/v1/folders/i-poll/changes/wait?syncToken=${syncToken}&timeout=30`, { token: ivans.token });
    await waitUntil(async () => (await waitingNow()) > before, 10_000, 'the long poll waiting');
    expect(await cli(['user', 'remove', 'ivan', '--folders-to', 'bob'])).toMatchObject({ code: 0, out: expect.stringContaining('folder i-poll now owned by bob') });
    // A commit (with the server token) wakes the poll.
    const f = testFile('a commit that wakes the poll');
    expect((await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data })).status).toBe(201);
    expect((await t.request('POST', '/v1/folders/i-poll/sync', { body: { operations: [upsert('k', 'wake.txt', f, null)] } })).status).toBe(200);
    const answered = await poll;
    expect(answered.status).toBe(401);
    expect(answered.body.code).toBe('device_revoked');
  });

  // Found by review: a code made while the removal ran (looked up before it, written after its
  // delete of the codes) paired a live device of a removed user, reaching the blocks they uploaded.
  it("refuses a pairing code of a removed user, however it outlived the removal", async () => {
    await addUser('otto');
    await device('otto', 'otto-laptop');
    const [users] = await tableRows(t, ['users']);
    const ottoId = (users as Array<{ id: number; name: string }>).find((u) => u.name === 'otto')!.id;
    expect((await cli(['user', 'remove', 'otto'])).code).toBe(0);
    // A code written for otto's row after the removal, as the race left one.
    const code = 'ABCD-EFGH-JKMN-PQRS';
    await sqlWrite(t, 'INSERT INTO pairing_codes (code_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)', [createHash('sha256').update(normalizePairingCode(code)).digest('hex'), ottoId, Date.now(), Date.now() + 600_000]);
    const traded = await pair(code, 'late-laptop');
    expect(traded.status).toBe(400);
    expect(traded.body).toMatchObject({ code: 'pairing_code_invalid', message: expect.stringContaining('was removed') });
    expect((await devicesJson()).filter((d) => d.user === 'otto').map((d) => d.revokedAt === null)).toEqual([false]);
  });

  // Found by review (PostgreSQL, where removals run at once): \`remove kim --folders-to lea\` while
  // lea was being removed gave kim's folders to lea, removed, whom nobody could act for.
  it('refuses to give folders to a user removed meanwhile: they stay with their owner', async () => {
    await addUser('kim');
    await addUser('lea');
    const kims = await device('kim', 'kim-laptop');
    await ownedFolder(kims.token, 'k-notes');
    let removing: Promise<{ code: number; err: string }>;
    if (t.accountFlags[0] === '--db') {
      // lea's removal holds her row (uncommitted) while kim's begins: it waits, then finds her removed.
      const client = new pg.Client({ connectionString: t.accountFlags[1] });
      await client.connect();
      try {
        await client.query('BEGIN');
        await client.query("UPDATE users SET removed_at = $1, name = name || '/' || id WHERE name = 'lea'", [Date.now()]);
        removing = cli(['user', 'remove', 'kim', '--folders-to', 'lea']);
        // The statistics views keep one snapshot a transaction: cleared before each look.
        await waitUntil(async () => (await client.query("SELECT pg_stat_clear_snapshot(), (SELECT count(*)::int FROM pg_stat_activity WHERE wait_event_type = 'Lock') AS n")).rows[0].n > 0, 10_000, "kim's removal waiting for lea's row");
        await client.query('COMMIT');
      } finally {
        await client.end();
      }
    } else {
      // One writer at a time on SQLite: lea's removal commits first.
      expect((await cli(['user', 'remove', 'lea'])).code).toBe(0);
      removing = cli(['user', 'remove', 'kim', '--folders-to', 'lea']);
    }
    expect(await removing).toMatchObject({ code: 1, err: expect.stringMatching(/User 'lea' was removed/) });
    expect((await foldersJson()).find((f) => f.id === 'k-notes')).toMatchObject({ owner: 'kim' });
    expect(await userNames()).toContain('kim');
  });

  it('refuses an unknown user (exit 1) and wrong words (exit 2), changing nothing', async () => {
    expect(await cli(['user', 'remove', 'nobody'])).toMatchObject({ code: 1, out: '', err: "ferry server: No user 'nobody' (add one with: ferry server user add nobody)\n" });
    // A removed user's stored name is no name to remove.
    expect(await cli(['user', 'remove', 'alice/1'])).toMatchObject({ code: 1, err: expect.stringContaining("No user 'alice/1'") });
    expect(await cli(['user', 'remove'])).toMatchObject({ code: 2, err: expect.stringContaining('user takes add NAME, remove NAME, or list') });
    expect((await cli(['user', 'remove', 'bob', 'carol'])).code).toBe(2);
    expect(await cli(['user', 'remove', 'bob', '--folder-to', 'carol'])).toMatchObject({ code: 2, err: expect.stringContaining("Unknown option '--folder-to'") });
    expect(await userNames()).toEqual(expect.arrayContaining(['bob', 'carol']));
    expect((await cli(['--help'])).out).toContain('user remove NAME [--folders-to OTHER]');
  });

  it('writes no token and no pairing code to the server log', () => {
    const log = readFileSync(logFile, 'utf8');
    // The log did record this file's requests.
    expect(log).toContain('device paired');
    expect(secrets.length).toBeGreaterThan(10);
    for (const secret of secrets) {
      expect(log).not.toContain(secret);
      expect(log).not.toContain(secret.replace(/-/g, ''));
    }
  });
});

// `ferry server folder remove FOLDER` (docs/sync-api.md, "Accounts and devices"): a folder made by
// mistake goes; one with files, or with the history of deleted ones, is refused, nothing changed.
describe('folder remove', () => {
  const report = { name: 'gus-laptop', version: 'ferry/test', pending: 0, failedCount: 0, failures: [] };
  const agentId = 'a1b2c3d4-0000-4000-8000-0000000000f1';

  it('removes a folder that holds nothing, naming its owner and the devices that reported on it; a device that syncs it makes it again', async () => {
    await addUser('gus');
    const gus = await device('gus', 'gus-laptop');
    expect((await t.request('PUT', '/v1/folders/Documnets', { token: gus.token })).status).toBe(201);
    expect((await t.request('PUT', `/v1/folders/Documnets/devices/${agentId}`, { token: gus.token, body: report, headers: { 'x-ferry-device': agentId } })).status).toBe(200);
    const before = ChangesPage.parse((await t.request('GET', '/v1/folders/Documnets/changes', { token: gus.token })).body);
    const oldToken = before._links['upcoming-modifications']?.href.match(/syncToken=([^&]+)/)?.[1];
    expect(oldToken).toEqual(expect.any(String));
    expect(await cli(['folder', 'remove', 'Documnets'])).toEqual({
      code: 0,
      out: "Removed folder Documnets (owned by gus): it held no file and no history; 1 device reported on it (gus-laptop): a device that still syncs it makes it again at its next pull, remove it from that device's settings\n",
      err: '',
    });
    expect((await foldersJson()).map((f) => f.id)).not.toContain('Documnets');
    expect(await folderList(gus.token)).not.toContain('Documnets');
    expect((await t.request('GET', '/v1/folders/Documnets/changes', { token: gus.token })).status).toBe(404);
    const [reports] = await tableRows(t, ['device_reports']);
    expect((reports as Array<{ folder_id: string }>).filter((r) => r.folder_id === 'Documnets')).toEqual([]);
    // Made again by the device that syncs it: a new folder, its user's.
    expect((await t.request('PUT', '/v1/folders/Documnets', { token: gus.token })).status).toBe(201);
    expect((await foldersJson()).find((f) => f.id === 'Documnets')).toMatchObject({ owner: 'gus', sharedWith: [] });
    // A sync token of the folder removed is none of the new one's: refused, a full listing follows
    // (found by review: the new folder's horizon started afresh and took it).
    const stale = await t.request('GET', `/v1/folders/Documnets/changes?syncToken=${oldToken}`, { token: gus.token });
    expect([stale.status, stale.body.code]).toEqual([410, 'sync_token_expired']);
  });

  it('refuses a folder with files, then one keeping the history of deleted files, changing nothing; once the history is pruned, its blocks go with it', async () => {
    await addUser('hal');
    await addUser('ivy');
    const hal = await device('hal', 'hal-laptop');
    const ivy = await device('ivy', 'ivy-laptop');
    const file = testFile('hal wrote this');
    await ownedFolder(hal.token, 'h-notes', file);
    expect((await cli(['share', 'h-notes', '--with', 'ivy'])).code).toBe(0);
    const before = await foldersJson();
    expect(await cli(['folder', 'remove', 'h-notes'])).toEqual({
      code: 1,
      out: '',
      err: 'ferry server: h-notes holds 1 file or folder: a folder with content is not removed; delete them from a device that syncs it first. Nothing was removed\n',
    });
    const changes = ChangesPage.parse((await t.request('GET', '/v1/folders/h-notes/changes', { token: hal.token })).body);
    const revision = changes.items.find((e) => e.path === 'a.txt')!.revision;
    const deleted = await t.request('POST', '/v1/folders/h-notes/sync?mode=sync', { token: hal.token, body: { operations: [{ key: 'd', action: 'delete', path: 'a.txt', baseRevision: revision }] } });
    expect(BatchCompletedReply.parse(deleted.body).results.d?.ok).toBe(true);
    expect(await cli(['folder', 'remove', 'h-notes'])).toMatchObject({
      code: 1,
      out: '',
      err: expect.stringMatching(/^ferry server: h-notes keeps the history of 1 deleted file or folder \(the newest change of \d{4}-\d\d-\d\dT[\d:.]+Z\): it can be restored from, so it is not removed; the retention prunes it in time \(30 days after by default: ferry server --keep-versions\)\. Nothing was removed\n$/),
    });
    expect(await foldersJson()).toEqual(before);
    expect((await t.request('GET', `/v1/blocks/${file.hash}`, { token: ivy.token })).status).toBe(200);
    // The retention's work, done here as it would: the versions and the tombstone gone.
    await sqlWrite(t, 'DELETE FROM versions WHERE folder_id = ?', ['h-notes']);
    await sqlWrite(t, 'DELETE FROM entries WHERE folder_id = ?', ['h-notes']);
    const [tasksBefore] = await tableRows(t, ['tasks']);
    expect((tasksBefore as Array<{ folder_id: string }>).filter((r) => r.folder_id === 'h-notes').length).toBeGreaterThan(0);
    expect((await cli(['folder', 'remove', 'h-notes'])).out).toBe('Removed folder h-notes (owned by hal, shared with ivy): it held no file and no history; no device reported on it\n');
    // Its finished tasks went with it: a later folder of this id shows none of their paths.
    const [tasksAfter] = await tableRows(t, ['tasks']);
    expect((tasksAfter as Array<{ folder_id: string }>).filter((r) => r.folder_id === 'h-notes')).toEqual([]);
    // Made again by someone else, it gives no reach to the old folder's bytes (its block grants went with it).
    expect((await t.request('PUT', '/v1/folders/h-notes', { token: ivy.token })).status).toBe(201);
    expect((await foldersJson()).find((f) => f.id === 'h-notes')).toMatchObject({ owner: 'ivy', sharedWith: [] });
    expect((await t.request('GET', `/v1/blocks/${file.hash}`, { token: ivy.token })).status).toBe(404);
  });

  it('refuses an unknown folder (exit 1) and wrong words (exit 2)', async () => {
    expect(await cli(['folder', 'remove', 'no-such'])).toEqual({ code: 1, out: '', err: "ferry server: No folder 'no-such' on this server (ferry server folders lists them)\n" });
    expect(await cli(['folder', 'list'])).toMatchObject({ code: 2, err: expect.stringContaining("unknown: folder list (folder remove FOLDER; 'folders' lists them)") });
    expect(await cli(['folder', 'remove'])).toMatchObject({ code: 2, err: expect.stringContaining('folder takes remove FOLDER') });
    expect((await cli(['--help'])).out).toContain('folder remove FOLDER');
  });
});

describe('a batch whose folder is removed before it commits', () => {
  // The removal is refused while a batch is queued or running; what is left is a batch accepted
  // just before the removal committed, its task written after. Its folder row is deleted here as
  // that removal would have, before the batch applies: nothing is written to the folder gone.
  it('is refused with not_found and writes nothing', async () => {
    let drop = false;
    const server: TestServer = await startTestServer({ hooks: { beforeApply: async () => (drop ? sqlWrite(server, 'DELETE FROM folders WHERE id = ?', ['gone']) : undefined) } });
    try {
      expect((await server.request('PUT', '/v1/folders/gone')).status).toBe(201);
      const file = testFile('late');
      expect((await server.request('PUT', `/v1/blocks/${file.hash}`, { raw: file.data })).status).toBe(201);
      drop = true;
      const res = await server.request('POST', '/v1/folders/gone/sync?mode=sync', { body: { operations: [upsert('k', 'late.txt', file, null)] } });
      expect(res.body).toMatchObject({ code: 'not_found', message: 'The folder gone was removed on the server: nothing was written to it' });
      expect((await server.request('GET', `/v1/tasks/${res.body.taskId}`)).body).toMatchObject({ status: 'Failed', error: { code: 'not_found' } });
      const [entries, versions] = await tableRows(server, ['entries', 'versions']);
      expect([entries, versions]).toEqual([[], []]);
    } finally {
      await server.close();
    }
  });
});
