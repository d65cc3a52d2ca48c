import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAccountsCommand } from '../../server/accounts-cli';
import { AUTH_FAILURE_LIMIT } from '../../server/auth';
import { manualClock } from '../helpers/local-temp';
import { startTestServer, testFile, upsert, type TestServer } from '../helpers/server-harness';

// What a credential can do to others': guess theirs (rate limited per address), replay or
// block their idempotent answers (tracking ids are scoped per paired device), or report as
// another device (a report id belongs to the credential that sent it first).

const clock = manualClock(Date.now());
let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ clock: clock.now });
});
afterAll(async () => t.close());

/** A new device of `user` (created when new): `ferry server user add`, `pair`, then POST /v1/pair. */
async function device(user: string, name: string): Promise<{ id: string; token: string }> {
  let out = '';
  const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s), now: clock.now };
  await runAccountsCommand(['user', 'add', user, ...t.accountFlags], io);
  expect(await runAccountsCommand(['pair', '--user', user, ...t.accountFlags], io), out).toBe(0);
  const code = /: ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})\n/.exec(out)?.[1] as string;
  const res = await t.request('POST', '/v1/pair', { token: null, body: { code, deviceName: name } });
  expect(res.status).toBe(201);
  return { id: res.body.deviceId, token: res.body.token };
}

describe('failed authentications per client address', () => {
  it('answers 429 rate_limited with Retry-After after too many different wrong tokens, the right token too, until Retry-After has passed', async () => {
    const ann = await device('ann', 'ann-laptop');
    // One wrong token sent again and again (an agent with a stale token) is one guess, not many.
    for (let i = 0; i < AUTH_FAILURE_LIMIT * 3; i++) expect((await t.request('GET', '/v1/folders', { token: 'fdt_stale-token' })).status).toBe(401);
    expect((await t.request('GET', '/v1/folders', { token: ann.token })).status).toBe(200);

    for (let i = 1; i < AUTH_FAILURE_LIMIT; i++) expect((await t.request('GET', '/v1/folders', { token: `fdt_guess-${i}` })).status).toBe(401);
    const limited = await t.request('GET', '/v1/folders', { token: 'fdt_guess-last' });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    // While limited, nothing from this address is checked: a right guess would not be told apart.
    for (const token of [ann.token, t.server.token]) expect((await t.request('GET', '/v1/folders', { token })).status).toBe(429);

    clock.advance(retryAfter * 1000);
    expect((await t.request('GET', '/v1/folders', { token: ann.token })).status).toBe(200);
    expect((await t.request('GET', '/v1/folders', { token: t.server.token })).status).toBe(200);
  });
});

describe('idempotency records per paired device', () => {
  let ann: { id: string; token: string };
  let bob: { id: string; token: string };
  const hello = testFile('scoped hello');

  beforeAll(async () => {
    ann = await device('ann', 'ann-desk');
    bob = await device('bob', 'bob-laptop');
    for (const token of [ann.token, bob.token]) expect((await t.request('PUT', `/v1/blocks/${hello.hash}`, { raw: hello.data, token })).status).toBe(201);
  });

  it("does not replay one user's answer to another sending the same X-Tracking-Id and request", async () => {
    const trackingId = randomUUID();
    expect((await t.request('PUT', '/v1/folders/ann-private', { token: ann.token, trackingId, body: { label: 'Ann' } })).status).toBe(201);
    // Replayed, bob would read ann's 201 with her folder; scoped, his request is his own: a folder he does not reach.
    const bobs = await t.request('PUT', '/v1/folders/ann-private', { token: bob.token, trackingId, body: { label: 'Ann' } });
    expect(bobs.status).toBe(404);
    // Ann's own repeat is still replayed.
    expect((await t.request('PUT', '/v1/folders/ann-private', { token: ann.token, trackingId, body: { label: 'Ann' } })).status).toBe(201);
  });

  it("lets neither user's tracking id block the other's request (no 422 across users)", async () => {
    const trackingId = randomUUID();
    expect((await t.request('PUT', '/v1/folders/ann-two', { token: ann.token, trackingId })).status).toBe(201);
    expect((await t.request('PUT', '/v1/folders/bob-two', { token: bob.token, trackingId })).status).toBe(201);
    const batchId = randomUUID();
    const batch = (token: string, folder: string) => t.request('POST', `/v1/folders/${folder}/sync`, { token, trackingId: batchId, body: { operations: [upsert('k', 'a.txt', hello, null)] } });
    expect((await batch(ann.token, 'ann-two')).status).toBe(200);
    const bobs = await batch(bob.token, 'bob-two');
    expect(bobs.status).toBe(200);
    expect(bobs.body.results.k.ok).toBe(true);
    // Each batch landed in its own folder as its own task.
    expect((await t.request('GET', '/v1/folders/bob-two/changes', { token: bob.token })).body.items.map((i: { path: string }) => i.path)).toEqual(['a.txt']);
  });
});

describe('device reports bound to the paired device', () => {
  const report = { name: 'laptop', version: 'ferry/test', pending: 0, failedCount: 0, failures: [] };
  const put = (token: string, headerDevice: string) =>
    t.request('PUT', `/v1/folders/shared-docs/devices/${headerDevice}`, { token, body: report, headers: { 'x-ferry-device': headerDevice } });

  it('refuses another credential reporting under a device id already reported, until that device is revoked', async () => {
    const owner = await device('cat', 'cat-laptop');
    const other = await device('dan', 'dan-laptop');
    expect((await t.request('PUT', '/v1/folders/shared-docs', { token: owner.token })).status).toBe(201);
    expect(await runAccountsCommand(['share', 'shared-docs', '--with', 'dan', ...t.accountFlags], { out: () => undefined, err: () => undefined })).toBe(0);

    expect((await put(owner.token, 'agent-cat')).status).toBe(200);
    // Dan's device reaches the folder, but naming cat's device id in the header does not make it cat's.
    const posing = await put(other.token, 'agent-cat');
    expect(posing.status).toBe(409);
    expect(posing.body.code).toBe('device_id_taken');
    expect((await put(other.token, 'agent-dan')).status).toBe(200);
    expect((await put(owner.token, 'agent-cat')).status).toBe(200);

    // Revoked, cat's device is listed signed out to the others (a new user's try saw it "up to
    // date", its unsent change unknown to them); paired again, it is not.
    expect(await runAccountsCommand(['revoke', owner.id, ...t.accountFlags], { out: () => undefined, err: () => undefined })).toBe(0);
    const listed = async () => ((await t.request('GET', '/v1/folders/shared-docs/devices', { token: other.token })).body.devices as Array<{ device: string; signedOut?: boolean }>).map((d) => [d.device, d.signedOut]);
    expect(await listed()).toEqual(expect.arrayContaining([['agent-cat', true], ['agent-dan', false]]));
    // The same computer paired again after a revoke keeps its device id.
    const again = await device('cat', 'cat-laptop-again');
    expect((await put(again.token, 'agent-cat')).status).toBe(200);
    expect(await listed()).toEqual(expect.arrayContaining([['agent-cat', false], ['agent-dan', false]]));
    expect((await put(other.token, 'agent-cat')).status).toBe(409);
  });

  // On each backend: the count of names that cannot be synced is kept with the report, and goes with the next one that has none.
  it('keeps how many of the failing paths are names that cannot be synced, and a bulk delete held there, until a report without them', async () => {
    const owner = await device('eli', 'eli-laptop');
    expect((await t.request('PUT', '/v1/folders/eli-docs', { token: owner.token })).status).toBe(201);
    const send = (body: object) => t.request('PUT', '/v1/folders/eli-docs/devices/agent-eli', { token: owner.token, body: { ...report, ...body }, headers: { 'x-ferry-device': 'agent-eli' } });
    const listed = async () => (await t.request('GET', '/v1/folders/eli-docs/devices', { token: owner.token })).body.devices[0] as { failedCount: number; unsyncableCount?: number; massDeleteHeld?: boolean };
    expect((await send({ failedCount: 3, unsyncableCount: 2 })).status).toBe(200);
    expect(await listed()).toMatchObject({ failedCount: 3, unsyncableCount: 2 });
    expect((await send({ failedCount: 1, massDeleteHeld: true })).status).toBe(200);
    expect(await listed()).toMatchObject({ failedCount: 1, massDeleteHeld: true });
    expect((await listed()).unsyncableCount).toBeUndefined();
    expect((await send({ failedCount: 1 })).status).toBe(200);
    expect((await listed()).massDeleteHeld).toBeUndefined();
  });
});

// A past version's content is read by its block hashes (docs/sync-api.md, "History and restore",
// revision=R): a device that reaches the folder reads them, one that does not learns nothing.
describe("a past version's blocks, per credential", () => {
  it('names them to a device the folder is shared with, which reads them; another user sees neither the version nor the blocks', async () => {
    const owner = await device('fay', 'fay-laptop');
    const reader = await device('gus', 'gus-laptop');
    const stranger = await device('hal', 'hal-laptop');
    const first = testFile('fay, the first version');
    const second = testFile('fay, the second version');
    expect((await t.request('PUT', '/v1/folders/fay-docs', { token: owner.token })).status).toBe(201);
    for (const f of [first, second]) expect((await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data, token: owner.token })).status).toBe(201);
    const commit = async (op: unknown) => (await t.request('POST', '/v1/folders/fay-docs/sync', { token: owner.token, body: { operations: [op] } })).body.results.k.revision as string;
    const r1 = await commit(upsert('k', 'note.txt', first, null));
    await commit(upsert('k', 'note.txt', second, r1));
    expect(await runAccountsCommand(['share', 'fay-docs', '--with', 'gus', ...t.accountFlags], { out: () => undefined, err: () => undefined })).toBe(0);

    // Gus never uploaded the first version's block: the folder he reaches refers to it.
    const one = await t.request('GET', `/v1/folders/fay-docs/history?path=note.txt&revision=${r1}`, { token: reader.token });
    expect(one.status).toBe(200);
    expect(one.body.items[0].blocks).toEqual([first.hash]);
    const read = await t.request('GET', `/v1/blocks/${first.hash}`, { token: reader.token });
    expect([read.status, read.body]).toEqual([200, 'fay, the first version']);

    // Hal reaches neither: the folder looks absent, and so does the block.
    const hidden = await t.request('GET', `/v1/folders/fay-docs/history?path=note.txt&revision=${r1}`, { token: stranger.token });
    expect([hidden.status, hidden.body.code]).toEqual([404, 'not_found']);
    expect((await t.request('GET', `/v1/blocks/${first.hash}`, { token: stranger.token })).status).toBe(404);
  });
});
