import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchCompletedReply, ChangesPage, decodeBlockFrames } from '../../protocol';
import { PAIRING_CODE_TTL_MS } from '../../server/accounts';
import { runAccountsCommand } from '../../server/accounts-cli';
import { PAIRING_FAILURE_LIMIT } from '../../server/auth';
import { metricSample } from '../helpers/raw-http';
import { startTestServer, tableRows, testFile, upsert, waitUntil, type TestServer } from '../helpers/server-harness';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.close());

/** Every row of the tables, as the server's database (SQLite or PostgreSQL) holds them, in one string. */
const tableDump = async (tables: string[]): Promise<string> => JSON.stringify(await tableRows(t, tables));

/** Runs `ferry server …` against the test server's accounts (--data DIR, or --db URL on PostgreSQL); what it printed and its exit code. */
async function cli(words: string[], now?: () => number): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAccountsCommand([...words, ...t.accountFlags], { out: (s) => (out += s), err: (s) => (err += s), ...(now ? { now } : {}) });
  return { code, out, err };
}

async function pairingCode(user: string, now?: () => number): Promise<string> {
  const { code, out } = await cli(['pair', '--user', user], now);
  expect(code).toBe(0);
  return /: ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})\n/.exec(out)?.[1] as string;
}

/** Trades a code at POST /v1/pair, from a client that holds no token yet. */
function pair(code: string, deviceName = 'laptop') {
  return t.request('POST', '/v1/pair', { token: null, body: { code, deviceName } });
}

async function device(user: string, name: string): Promise<{ id: string; token: string }> {
  const res = await pair(await pairingCode(user), name);
  expect(res.status).toBe(201);
  return { id: res.body.deviceId, token: res.body.token };
}

const users = new Set<string>();
async function user(name: string): Promise<void> {
  if (users.has(name)) return;
  expect((await cli(['user', 'add', name])).code).toBe(0);
  users.add(name);
}

describe('users, pairing and devices', () => {
  it('pairs a device with a one-time code and stores only a hash of its token', async () => {
    await user('ann');
    const code = await pairingCode('ann');
    const res = await pair(code, 'ann-laptop');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ user: 'ann', deviceId: expect.any(String), token: expect.stringMatching(/^fdt_[A-Za-z0-9_-]{43}$/) });
    // The token works as a bearer token.
    expect((await t.request('GET', '/v1/folders', { token: res.body.token })).status).toBe(200);
    // Neither the token nor the code is in the database in clear.
    const dump = await tableDump(['devices', 'pairing_codes']);
    expect(dump).toContain(res.body.deviceId); // the dump read the rows
    expect(dump).not.toContain(res.body.token);
    expect(dump).not.toContain(code);
    expect(dump).not.toContain(code.replace(/-/g, ''));
    const listed = await cli(['devices', '--user', 'ann', '--json']);
    expect(JSON.parse(listed.out)).toEqual([expect.objectContaining({ id: res.body.deviceId, name: 'ann-laptop', user: 'ann', revokedAt: null })]);
    expect(listed.out).not.toContain(res.body.token);
  });

  it('lists with each credential the agent ids it reported under, so a computer can be told by the id its agent shows', async () => {
    await user('eve');
    const laptop = await device('eve', 'eve-laptop');
    expect((await t.request('PUT', '/v1/folders/eve-docs', { token: laptop.token })).status).toBe(201);
    const report = { name: 'eve-laptop', version: 'ferry/test', pending: 0, failedCount: 0, failures: [] };
    const agentId = 'a1b2c3d4-0000-4000-8000-000000000001';
    const put = await t.request('PUT', `/v1/folders/eve-docs/devices/${agentId}`, { token: laptop.token, body: report, headers: { 'x-ferry-device': agentId } });
    expect(put.status).toBe(200);
    const fresh = await device('eve', 'eve-phone');
    const listed = JSON.parse((await cli(['devices', '--user', 'eve', '--json'])).out) as Array<{ id: string; agents: string[] }>;
    expect(listed).toEqual([expect.objectContaining({ id: laptop.id, agents: [agentId] }), expect.objectContaining({ id: fresh.id, agents: [] })]);
    const table = (await cli(['devices', '--user', 'eve'])).out;
    expect(table).toMatch(new RegExp(`^${laptop.id}\\s+eve\\s+eve-laptop\\s+a1b2c3d4\\s`, 'm'));
    expect(table).toMatch(new RegExp(`^${fresh.id}\\s+eve\\s+eve-phone\\s+-\\s`, 'm'));
    // To the minute: the server writes "last seen" at most once a minute, so seconds would claim more than it knows.
    expect(table).toMatch(new RegExp(`^${laptop.id}\\s.*\\s\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\dZ\\s+last seen \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\dZ$`, 'm'));
    expect(table).toMatch(/last seen never$/m);
    // Renamed on the computer since its pairing: the name its reports give now, and the old one beside it.
    expect((await t.request('PUT', `/v1/folders/eve-docs/devices/${agentId}`, { token: laptop.token, body: { ...report, name: 'eve-studio' }, headers: { 'x-ferry-device': agentId } })).status).toBe(200);
    expect((await cli(['devices', '--user', 'eve'])).out).toMatch(new RegExp(`^${laptop.id}\\s+eve\\s+eve-studio \\(named eve-laptop when paired\\)\\s+a1b2c3d4\\s`, 'm'));
    const renamed = JSON.parse((await cli(['devices', '--user', 'eve', '--json'])).out) as Array<{ id: string; name: string; reportedName?: string }>;
    expect(renamed.find((d) => d.id === laptop.id)).toMatchObject({ name: 'eve-laptop', reportedName: 'eve-studio' });
    expect(renamed.find((d) => d.id === fresh.id)?.reportedName).toBeUndefined();
    // Paused there, kept with its report and listed to the folder's devices (SQLite and PostgreSQL alike).
    expect((await t.request('PUT', `/v1/folders/eve-docs/devices/${agentId}`, { token: laptop.token, body: { ...report, name: 'eve-studio', paused: true }, headers: { 'x-ferry-device': agentId } })).status).toBe(200);
    const seen = await t.request('GET', '/v1/folders/eve-docs/devices', { token: laptop.token, headers: { 'x-ferry-device': agentId } });
    expect((seen.body.devices as Array<{ device: string; paused?: boolean }>).find((d) => d.device === agentId)?.paused).toBe(true);
    // Revoked, it is named as the list names it (a new-user try: "vm of root", another device's name).
    expect((await cli(['revoke', laptop.id])).out).toBe(`Revoked device ${laptop.id} (eve-studio (named eve-laptop when paired) of eve): its next request is refused\n`);
  });

  it('refuses a reused, an expired and an unknown code, each with its own code', async () => {
    await user('ann');
    const code = await pairingCode('ann');
    expect((await pair(code)).status).toBe(201);
    const reused = await pair(code);
    expect(reused.status).toBe(410);
    expect(reused.body.code).toBe('pairing_code_used');
    const old = await pairingCode('ann', () => Date.now() - PAIRING_CODE_TTL_MS - 1000);
    const expired = await pair(old);
    expect(expired.status).toBe(410);
    expect(expired.body.code).toBe('pairing_code_expired');
    const unknown = await pair('AAAA-BBBB-CCCC-DDDD');
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('pairing_code_invalid');
  });

  it('accepts a code typed in lower case without dashes', async () => {
    await user('ann');
    const code = await pairingCode('ann');
    expect((await pair(code.toLowerCase().replace(/-/g, ''))).status).toBe(201);
  });

  it('refuses pairing for a user that does not exist, and a user added twice', async () => {
    const missing = await cli(['pair', '--user', 'nobody']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/No user 'nobody'/);
    await user('ann');
    const again = await cli(['user', 'add', 'ann']);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/exists already/);
    expect((await cli(['user', 'add', 'bad name'])).code).toBe(1);
    expect((await cli(['frobnicate'])).code).toBe(2);
  });

  it('signs a revoked device out: 401 device_revoked on its next request, other devices unaffected', async () => {
    await user('ann');
    const a = await device('ann', 'phone');
    const b = await device('ann', 'desk');
    expect((await t.request('GET', '/v1/folders', { token: a.token })).status).toBe(200);
    const revoked = await cli(['revoke', a.id]);
    expect(revoked.code).toBe(0);
    const refused = await t.request('GET', '/v1/folders', { token: a.token });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('device_revoked');
    expect((await t.request('GET', '/v1/folders', { token: b.token })).status).toBe(200);
    expect((await cli(['revoke', a.id])).out).toMatch(/revoked already/);
    expect((await cli(['revoke', 'no-such-device'])).code).toBe(1);
    const listed = JSON.parse((await cli(['devices', '--json'])).out) as Array<{ id: string; revokedAt: string | null }>;
    expect(listed.find((d) => d.id === a.id)?.revokedAt).not.toBeNull();
  });

  // A revoked device's long poll that was open already still answered "changes" when a commit
  // woke it: the device learned that its folders changed after it was signed out. It is refused
  // now as its next request is.
  it("refuses a revoked device's long poll that was waiting when the revoke came, at its wake-up", async () => {
    await user('ann');
    const a = await device('ann', 'tablet');
    const folder = `revoked-poll-${a.id.slice(0, 8)}`;
    expect((await t.request('PUT', `/v1/folders/${folder}`, { token: a.token })).status).toBe(201);
    const page = ChangesPage.parse((await t.request('GET', `/v1/folders/${folder}/changes`, { token: a.token })).body);
    const syncToken = new URL(page._links['upcoming-modifications']!.href, 'http://x').searchParams.get('syncToken');
    const waitingNow = async () => metricSample(await (await fetch(`${t.server.url}/metrics`)).text(), 'ferry_long_polls_waiting') ?? 0;
    const before = await waitingNow();
    const poll = t.request('GET', `/v1/folders/${folder}/changes/wait?syncToken=${syncToken}&timeout=30`, { token: a.token });
    await waitUntil(async () => (await waitingNow()) > before, 10_000, 'the long poll waiting');
    expect((await cli(['revoke', a.id])).code).toBe(0);
    const f = testFile('a commit that wakes the poll');
    expect((await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data })).status).toBe(201);
    expect((await t.request('POST', `/v1/folders/${folder}/sync`, { body: { operations: [upsert('k', 'wake.txt', f, null)] } })).status).toBe(200);
    const answered = await poll;
    expect(answered.status).toBe(401);
    expect(answered.body.code).toBe('device_revoked');
  });

  // A computer paired again (`ferry agent --pair` on a data directory that holds a token for the
  // server) kept its old credential alive next to the new one: two devices for one computer, the
  // old token still good. Refused now: the old token, sent as the pairing's bearer, ends.
  it('revokes the device a pairing replaces (its old token sent as the bearer), of whichever user; a revoked or unknown bearer changes nothing', async () => {
    await user('ann');
    await user('bob');
    const old = await device('ann', 'laptop');
    const again = await t.request('POST', '/v1/pair', { token: old.token, body: { code: await pairingCode('ann'), deviceName: 'laptop' } });
    expect(again.status).toBe(201);
    expect(again.body.replacedDeviceId).toBe(old.id);
    expect((await t.request('GET', '/v1/folders', { token: old.token })).body.code).toBe('device_revoked');
    expect((await t.request('GET', '/v1/folders', { token: again.body.token })).status).toBe(200);
    // Paired as another user: the computer keeps only the new token, so the old one ends too.
    const bobs = await device('bob', 'desk');
    const other = await t.request('POST', '/v1/pair', { token: bobs.token, body: { code: await pairingCode('ann'), deviceName: 'desk' } });
    expect(other.status).toBe(201);
    expect(other.body).toMatchObject({ user: 'ann', replacedDeviceId: bobs.id });
    expect((await t.request('GET', '/v1/folders', { token: bobs.token })).body.code).toBe('device_revoked');
    // A bearer already revoked, or unknown, refuses nothing and replaces nothing.
    const afterRevoked = await t.request('POST', '/v1/pair', { token: old.token, body: { code: await pairingCode('ann'), deviceName: 'y' } });
    expect(afterRevoked.status).toBe(201);
    expect(afterRevoked.body.replacedDeviceId).toBeUndefined();
    const unknown = await t.request('POST', '/v1/pair', { token: 'fdt_not-a-device', body: { code: await pairingCode('ann'), deviceName: 'y' } });
    expect(unknown.status).toBe(201);
    expect(unknown.body.replacedDeviceId).toBeUndefined();
  });

  // Found by a new-user try: a computer paired as ann, then bob, then ann again kept its first
  // credential live (a pairing replaced only the same user's). That credential held the agent id,
  // so the newest one's reports were refused, and `revoke AGENT` signed out the forgotten one
  // while the computer went on syncing.
  it('revoking by agent id signs out the credential the computer uses, after pairings as ann, bob and ann again', async () => {
    await user('ann');
    await user('bob');
    const agentId = 'c0ffee00-0000-4000-8000-00000000abcd';
    const report = { name: 'kitchen', version: 'ferry/test', pending: 0, failedCount: 0, failures: [] };
    const reportAs = (token: string, folder: string) =>
      t.request('PUT', `/v1/folders/${folder}/devices/${agentId}`, { token, body: report, headers: { 'x-ferry-device': agentId } });
    const first = await device('ann', 'kitchen');
    expect((await t.request('PUT', '/v1/folders/kitchen-ann', { token: first.token })).status).toBe(201);
    expect((await reportAs(first.token, 'kitchen-ann')).status).toBe(200);
    const asBob = await t.request('POST', '/v1/pair', { token: first.token, body: { code: await pairingCode('bob'), deviceName: 'kitchen' } });
    expect((await t.request('PUT', '/v1/folders/kitchen-bob', { token: asBob.body.token })).status).toBe(201);
    expect((await reportAs(asBob.body.token, 'kitchen-bob')).status).toBe(200);
    const annAgain = await t.request('POST', '/v1/pair', { token: asBob.body.token, body: { code: await pairingCode('ann'), deviceName: 'kitchen' } });
    expect(annAgain.status).toBe(201);
    // The computer's report under its agent id is taken now, not refused as another device's.
    expect((await reportAs(annAgain.body.token, 'kitchen-ann')).status).toBe(200);
    const listed = JSON.parse((await cli(['devices', '--json'])).out) as Array<{ id: string; agents: string[]; revokedAt: string | null }>;
    const live = listed.filter((d) => d.agents.includes(agentId) && d.revokedAt === null);
    expect(live.map((d) => d.id)).toEqual([annAgain.body.deviceId]);
    const revoked = await cli(['revoke', agentId.slice(0, 8)]);
    expect(revoked.out).toContain(`Revoked device ${annAgain.body.deviceId}`);
    expect((await t.request('GET', '/v1/folders', { token: annAgain.body.token })).body.code).toBe('device_revoked');
  });

  it('keeps the server token working for everything, as before accounts', async () => {
    expect((await t.request('PUT', '/v1/folders/legacy-folder')).status).toBe(201);
    expect((await t.request('GET', '/v1/folders')).body.folders.map((f: { id: string }) => f.id)).toContain('legacy-folder');
  });
});

describe('isolation between users', () => {
  const secret = testFile('only for x');
  let x: { id: string; token: string };
  let y: { id: string; token: string };
  let revision: string;

  beforeAll(async () => {
    await user('xena');
    await user('yuri');
    x = await device('xena', 'x-laptop');
    y = await device('yuri', 'y-laptop');
    expect((await t.request('PUT', '/v1/folders/x-docs', { token: x.token })).status).toBe(201);
    expect((await t.request('PUT', `/v1/blocks/${secret.hash}`, { token: x.token, raw: secret.data })).status).toBe(201);
    const res = await t.request('POST', '/v1/folders/x-docs/sync?mode=sync', { token: x.token, body: { operations: [upsert('k', 'a.txt', secret, null)] } });
    const result = BatchCompletedReply.parse(res.body).results.k;
    if (!result?.ok) throw new Error(JSON.stringify(res.body));
    revision = result.revision;
  });

  it("answers 404 to every request about another user's folder, and leaves it out of the list", async () => {
    const as = { token: y.token };
    expect((await t.request('GET', '/v1/folders', as)).body.folders).toEqual([]);
    for (const [method, url] of [
      ['GET', '/v1/folders/x-docs'],
      ['GET', '/v1/folders/x-docs/changes'],
      ['GET', '/v1/folders/x-docs/changes/wait?timeout=1'],
      ['PUT', '/v1/folders/x-docs'],
    ] as const) {
      const res = await t.request(method, url, as);
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body.code).toBe('not_found');
    }
    const write = await t.request('POST', '/v1/folders/x-docs/sync?mode=sync', { ...as, body: { operations: [upsert('k', 'a.txt', secret, revision)] } });
    expect(write.status).toBe(404);
    // x's folder is unchanged by y's attempt.
    const items = (await t.request('GET', '/v1/folders/x-docs/changes', { token: x.token })).body.items as Array<{ path: string; revision: string }>;
    expect(items).toEqual([expect.objectContaining({ path: 'a.txt', revision })]);
  });

  it("cannot read or probe another user's block", async () => {
    const as = { token: y.token };
    expect((await t.request('GET', `/v1/blocks/${secret.hash}`, as)).status).toBe(404);
    expect((await t.request('POST', '/v1/blocks/missing', { ...as, body: { hashes: [secret.hash] } })).body.missing).toEqual([secret.hash]);
    const fetched = await fetch(`${t.server.url}/v1/blocks/fetch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${y.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ hashes: [secret.hash] }),
    });
    const decoded = decodeBlockFrames(Buffer.from(await fetched.arrayBuffer()), { allowAbsent: true, maxFrames: 10 });
    expect(decoded.ok && decoded.frames[0]?.data).toBeNull();
    // x still reads it.
    expect((await t.request('GET', `/v1/blocks/${secret.hash}`, { token: x.token })).status).toBe(200);
  });

  it('refuses a batch that refers to blocks its account never uploaded nor reaches', async () => {
    expect((await t.request('PUT', '/v1/folders/y-docs', { token: y.token })).status).toBe(201);
    const res = await t.request('POST', '/v1/folders/y-docs/sync?mode=sync', { token: y.token, body: { operations: [upsert('k', 'stolen.txt', secret, null)] } });
    expect(res.status).toBe(400);
    expect(res.body.missing).toEqual([secret.hash]);
    expect((await t.request('GET', `/v1/blocks/${secret.hash}`, { token: y.token })).status).toBe(404);
  });

  it('tells an uploader nothing about who else holds a block, then lets it read what it uploaded', async () => {
    const put = await t.request('PUT', `/v1/blocks/${secret.hash}`, { token: y.token, raw: secret.data });
    expect(put.status).toBe(201);
    expect(put.body.stored).toBe(true);
    expect((await t.request('GET', `/v1/blocks/${secret.hash}`, { token: y.token })).status).toBe(200);
    const again = await t.request('PUT', `/v1/blocks/${secret.hash}`, { token: y.token, raw: secret.data });
    expect(again.body.stored).toBe(false);
  });

  it("reaches the folder and its blocks once it is shared, and a task of it", async () => {
    const other = testFile('x only, never uploaded by y');
    await t.request('PUT', `/v1/blocks/${other.hash}`, { token: x.token, raw: other.data });
    const res = await t.request('POST', '/v1/folders/x-docs/sync?mode=sync', { token: x.token, body: { operations: [upsert('k', 'b.txt', other, null)] } });
    expect(res.status).toBe(200);
    expect((await t.request('GET', `/v1/blocks/${other.hash}`, { token: y.token })).status).toBe(404);
    const shared = await cli(['share', 'x-docs', '--with', 'yuri']);
    expect(shared.code).toBe(0);
    expect((await t.request('GET', '/v1/folders', { token: y.token })).body.folders.map((f: { id: string }) => f.id)).toEqual(['x-docs', 'y-docs']);
    expect((await t.request('GET', `/v1/blocks/${other.hash}`, { token: y.token })).status).toBe(200);
    expect((await t.request('GET', '/v1/folders/x-docs/changes', { token: y.token })).status).toBe(200);
    const write = await t.request('POST', '/v1/folders/x-docs/sync?mode=sync', { token: y.token, body: { operations: [upsert('k', 'c.txt', other, null)] } });
    expect(write.status).toBe(200);
    expect((await cli(['share', 'no-such-folder', '--with', 'yuri'])).code).toBe(1);
  });

  it('takes a shared folder away with unshare: 404 again for that user, the owner untouched; listed with owner and sharers', async () => {
    await cli(['share', 'x-docs', '--with', 'yuri']);
    const listed = await cli(['folders', '--json']);
    expect(JSON.parse(listed.out)).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'x-docs', owner: 'xena', sharedWith: ['yuri'] })]));
    expect((await cli(['folders', '--user', 'yuri'])).out).toMatch(/^x-docs\s+xena\s+yuri\s/m);

    const taken = await cli(['unshare', 'x-docs', '--from', 'yuri']);
    expect(taken).toMatchObject({ code: 0, out: expect.stringContaining("yuri's devices no longer reach x-docs") });
    expect((await t.request('GET', '/v1/folders', { token: y.token })).body.folders.map((f: { id: string }) => f.id)).not.toContain('x-docs');
    expect((await t.request('GET', '/v1/folders/x-docs/changes', { token: y.token })).status).toBe(404);
    // Nor can the device take the id back by making the folder again.
    expect((await t.request('PUT', '/v1/folders/x-docs', { token: y.token })).status).toBe(404);
    expect((await t.request('GET', '/v1/folders/x-docs/changes', { token: x.token })).status).toBe(200);
    expect(JSON.parse((await cli(['folders', '--user', 'yuri', '--json'])).out).map((f: { id: string }) => f.id)).not.toContain('x-docs');

    expect(await cli(['unshare', 'x-docs', '--from', 'yuri'])).toMatchObject({ code: 0, out: 'x-docs was not shared with yuri\n' });
    // Refused: the owner's own access (nobody could share it again), an unknown folder or user, no --from.
    expect(await cli(['unshare', 'x-docs', '--from', 'xena'])).toMatchObject({ code: 1, err: expect.stringContaining('xena owns x-docs (their device made it), and an owner keeps it') });
    expect((await t.request('GET', '/v1/folders/x-docs/changes', { token: x.token })).status).toBe(200);
    expect(await cli(['unshare', 'no-such-folder', '--from', 'yuri'])).toMatchObject({ code: 1, err: expect.stringContaining("No folder 'no-such-folder'") });
    expect(await cli(['unshare', 'x-docs', '--from', 'nobody'])).toMatchObject({ code: 1, err: expect.stringContaining("No user 'nobody'") });
    expect((await cli(['unshare', 'x-docs'])).code).toBe(2);
    // Shared again, it is back.
    await cli(['share', 'x-docs', '--with', 'yuri']);
    expect((await t.request('GET', '/v1/folders/x-docs/changes', { token: y.token })).status).toBe(200);
  });

  // New-user tries: "14 changes behind" for one folder of 6 files renamed (each move counted twice);
  // a device of a user the folder was unshared from listed as "1 change behind", then "not reporting".
  it("lists a folder's devices: a move behind counted once, an unshared user's device left out (SQLite and PostgreSQL alike)", async () => {
    await cli(['share', 'x-docs', '--with', 'yuri']);
    const yAgent = 'b1b2c3d4-0000-4000-8000-0000000000y1';
    const page = ChangesPage.parse((await t.request('GET', '/v1/folders/x-docs/changes', { token: y.token })).body);
    const syncToken = new URL(page._links['upcoming-modifications']!.href, 'http://x').searchParams.get('syncToken');
    const report = { name: 'y-laptop', version: 'ferry/test', pending: 0, failedCount: 0, failures: [], syncToken };
    expect((await t.request('PUT', `/v1/folders/x-docs/devices/${yAgent}`, { token: y.token, body: report, headers: { 'x-ferry-device': yAgent } })).status).toBe(200);
    const yuriSeen = async () => ((await t.request('GET', '/v1/folders/x-docs/devices', { token: x.token })).body.devices as Array<{ device: string; behind: number | null }>).find((d) => d.device === yAgent);
    expect(await yuriSeen()).toMatchObject({ behind: 0 });
    const current = (await t.request('GET', '/v1/folders/x-docs/changes', { token: x.token })).body.items.find((i: { path: string }) => i.path === 'a.txt');
    const moved = await t.request('POST', '/v1/folders/x-docs/sync?mode=sync', { token: x.token, body: { operations: [{ key: 'mv', action: 'move', from: 'a.txt', path: 'a-moved.txt', baseRevision: current.revision }] } });
    expect(moved.status).toBe(200);
    // One move: its new path, not again its old path's tombstone.
    expect(await yuriSeen()).toMatchObject({ behind: 1 });
    await cli(['unshare', 'x-docs', '--from', 'yuri']);
    expect(await yuriSeen()).toBeUndefined();
    await cli(['share', 'x-docs', '--with', 'yuri']);
    expect(await yuriSeen()).toMatchObject({ behind: 1 });
  });

  // Found by a new-user try: a device whose agent was quit read "up to date" for three minutes.
  it("keeps a device's report that its agent stopped and lists it, until its next report (SQLite and PostgreSQL alike)", async () => {
    await user('quinn');
    const laptop = await device('quinn', 'q-laptop');
    expect((await t.request('PUT', '/v1/folders/q-docs', { token: laptop.token })).status).toBe(201);
    const agentId = 'c1b2c3d4-0000-4000-8000-0000000000q1';
    const page = ChangesPage.parse((await t.request('GET', '/v1/folders/q-docs/changes', { token: laptop.token })).body);
    const syncToken = new URL(page._links['upcoming-modifications']!.href, 'http://x').searchParams.get('syncToken');
    const report = { name: 'q-laptop', version: 'ferry/test', pending: 0, failedCount: 0, failures: [], syncToken };
    const put = (body: object) => t.request('PUT', `/v1/folders/q-docs/devices/${agentId}`, { token: laptop.token, body, headers: { 'x-ferry-device': agentId } });
    const listed = async () => ((await t.request('GET', '/v1/folders/q-docs/devices', { token: laptop.token })).body.devices as Array<{ device: string; stopped?: boolean; upToDate: boolean }>).find((d) => d.device === agentId);
    expect((await put(report)).status).toBe(200);
    expect(await listed()).toMatchObject({ upToDate: true });
    expect((await listed())!.stopped).toBeUndefined();
    const quit = await put({ ...report, stopped: true });
    expect(quit.status).toBe(200);
    expect(quit.body).toMatchObject({ stopped: true, upToDate: false });
    expect(await listed()).toMatchObject({ stopped: true, upToDate: false, behind: 0 });
    // Started again: its next report goes without it, and clears it.
    expect((await put(report)).status).toBe(200);
    expect(await listed()).toMatchObject({ upToDate: true });
    expect((await listed())!.stopped).toBeUndefined();
  });

  // A stop's report cut off at its 1.5 s deadline can land after the restarted agent's first
  // report: the running device read "stopped (quit at …)" until its next heartbeat.
  it('ignores a late report that an earlier run stopped, once a newer run reported; a stop of the newest run still marks it (SQLite and PostgreSQL alike)', async () => {
    await user('rosa');
    const laptop = await device('rosa', 'r-laptop');
    expect((await t.request('PUT', '/v1/folders/r-docs', { token: laptop.token })).status).toBe(201);
    const agentId = 'd1b2c3d4-0000-4000-8000-0000000000r1';
    const report = { name: 'r-laptop', version: 'ferry/test', pending: 0, failedCount: 0, failures: [] };
    const runA = 'ferry;2030-01-01T10:00:00.000Z';
    const runB = 'ferry;2030-01-01T10:05:00.000Z';
    const put = (run: string, body: object) =>
      t.request('PUT', `/v1/folders/r-docs/devices/${agentId}`, { token: laptop.token, body, headers: { 'x-ferry-device': agentId, 'x-ferry-run': run } });
    const listed = async () => ((await t.request('GET', '/v1/folders/r-docs/devices', { token: laptop.token })).body.devices as Array<{ device: string; stopped?: boolean; pending: number }>).find((d) => d.device === agentId);
    expect((await put(runA, { ...report, pending: 1 })).status).toBe(200);
    expect((await put(runB, report)).status).toBe(200);
    // Run A's stop, late: nothing changes, and the reply says so.
    const late = await put(runA, { ...report, pending: 1, stopped: true });
    expect(late.status).toBe(200);
    expect(late.body.stopped).toBeUndefined();
    expect(await listed()).toMatchObject({ pending: 0 });
    expect((await listed())!.stopped).toBeUndefined();
    // A late report of run A that is not a stop is stored, and does not make run A the newest again.
    expect((await put(runA, { ...report, pending: 2 })).status).toBe(200);
    expect((await put(runA, { ...report, pending: 2, stopped: true })).status).toBe(200);
    expect(await listed()).toMatchObject({ pending: 2 });
    expect((await listed())!.stopped).toBeUndefined();
    // Run B's own stop marks it, as before.
    const quit = await put(runB, { ...report, stopped: true });
    expect(quit.body).toMatchObject({ stopped: true, upToDate: false });
    expect(await listed()).toMatchObject({ stopped: true, pending: 0 });
  });

  it('lists the users with their devices, live and paired', async () => {
    await user('wes');
    const w = await device('wes', 'w-1');
    await device('wes', 'w-2');
    expect((await cli(['revoke', w.id])).code).toBe(0);
    const listed = JSON.parse((await cli(['user', 'list', '--json'])).out) as Array<{ name: string; devices: number; liveDevices: number }>;
    expect(listed.find((u) => u.name === 'wes')).toMatchObject({ devices: 2, liveDevices: 1 });
    expect(listed.map((u) => u.name)).toEqual([...listed.map((u) => u.name)].sort());
    expect((await cli(['user', 'list'])).out).toMatch(/^wes\s+\S+\s+1 live, 1 revoked$/m);
    expect((await cli(['user', 'list', 'extra'])).code).toBe(2);
  });

  it("answers 404 for another user's task", async () => {
    const res = await t.request('POST', '/v1/folders/x-docs/sync?mode=async', { token: x.token, body: { operations: [upsert('k', 'd.txt', secret, null)] } });
    expect(res.status).toBe(202);
    const taskId = (res.body as { taskId?: string; id?: string }).taskId ?? (res.body as { id: string }).id;
    await user('zoe');
    const z = await device('zoe', 'z');
    expect((await t.request('GET', `/v1/tasks/${taskId}`, { token: z.token })).status).toBe(404);
    expect((await t.request('GET', `/v1/tasks/${taskId}`, { token: x.token })).status).toBe(200);
  });
});

// Last: it spends this address's pairing attempts for the rest of the file.
describe('brute force', () => {
  it('limits failed pairing attempts per address: 429 with Retry-After, even for a good code', async () => {
    await user('ann');
    // Earlier tests spent some failures already; spend the rest.
    let limited = await pair('ZZZZ-ZZZZ-ZZZZ-ZZZZ');
    for (let i = 0; i < PAIRING_FAILURE_LIMIT && limited.status !== 429; i++) limited = await pair('ZZZZ-ZZZZ-ZZZZ-ZZZZ');
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // How long, in the words too.
    expect(limited.body.message).toBe(`Too many failed attempts from this address: try again in ${limited.headers.get('retry-after')} s`);
    const good = await pairingCode('ann');
    expect((await pair(good)).status).toBe(429);
  });
});

describe('maintenance is the server credential’s alone', () => {
  // Its own server: the pairing rate limit above counts this address's failed codes.
  let own: TestServer;
  beforeAll(async () => {
    own = await startTestServer();
  });
  afterAll(async () => own.close());

  it('answers a paired device’s POST /v1/maintenance/gc with 404 and runs it for the server token', async () => {
    const io = { out: () => undefined, err: () => undefined };
    expect(await runAccountsCommand(['user', 'add', 'gc-user', ...own.accountFlags], io)).toBe(0);
    let printed = '';
    expect(await runAccountsCommand(['pair', '--user', 'gc-user', ...own.accountFlags], { ...io, out: (s) => (printed += s) })).toBe(0);
    const code = /: ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})\n/.exec(printed)?.[1] as string;
    const paired = await own.request('POST', '/v1/pair', { token: null, body: { code, deviceName: 'gc-laptop' } });
    expect(paired.status).toBe(201);
    const refused = await own.request('POST', '/v1/maintenance/gc', { token: paired.body.token });
    expect(refused.status).toBe(404);
    const ran = await own.request('POST', '/v1/maintenance/gc', {});
    expect(ran.status).toBe(200);
    expect(ran.body).toMatchObject({ blocksCollected: expect.any(Number) });
  });
});
