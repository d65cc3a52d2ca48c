import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryError, formatRunHeader, syncTokenFromHref } from '../../protocol';
import { SyncApiClient } from '../../main/remote';
import type { PullRemote } from '../../main/engine/pull/remote-port';
import type { PushRemote } from '../../main/engine/push/remote-port';
import { TaskGate, sha256, startTestServer, testFile, upsert, waitUntil, type TestServer } from '../helpers/server-harness';

let t: TestServer;
let client: SyncApiClient;
let holdNewTasks = false;
const gate = new TaskGate();

beforeAll(async () => {
  t = await startTestServer({ syncBudgetMs: 300, hooks: { beforeApply: async (id, signal) => (holdNewTasks ? gate.hook(id, signal) : undefined) } });
  client = new SyncApiClient({ baseUrl: t.server.url, token: t.server.token, deviceId: 'laptop-1', runName: 'tests' });
});
afterAll(async () => {
  gate.release();
  client.close();
  await t.close();
});

async function failure(promise: Promise<unknown>): Promise<FerryError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(FerryError);
    return error as FerryError;
  }
  throw new Error('expected a failure');
}

// The client must fit the engine's ports as they are declared.
const ports: [PushRemote, PullRemote] = [null as unknown as SyncApiClient, null as unknown as SyncApiClient];
void ports;

describe('against the reference server', () => {
  it('creates and lists folders', async () => {
    const folder = await client.createFolder('alpha', { label: 'Alpha' });
    expect(folder).toMatchObject({ id: 'alpha', label: 'Alpha' });
    expect((await client.createFolder('alpha')).label).toBe('Alpha');
    expect((await client.listFolders()).map((f) => f.id)).toContain('alpha');
  });

  it('uploads blocks from buffers and streams with progress, and reads them back verified', async () => {
    const a = testFile(`buffer ${randomUUID()}`);
    const big = Buffer.alloc(300_000, 3);
    expect(await client.missingBlocks([a.hash, sha256(big)])).toEqual([a.hash, sha256(big)]);
    const progress: number[] = [];
    expect(await client.putBlock(a.hash, a.data, { onProgress: (sent) => progress.push(sent) })).toEqual({ hash: a.hash, size: a.data.length, stored: true });
    expect(progress.at(-1)).toBe(a.data.length);
    const streamed = await client.putBlock(sha256(big), Readable.from([big.subarray(0, 100_000), big.subarray(100_000)]), { size: big.length });
    expect(streamed.size).toBe(big.length);
    expect(await client.missingBlocks([a.hash, sha256(big)])).toEqual([]);
    expect(await client.getBlock(sha256(big))).toEqual(big);
    const wrong = await failure(client.putBlock(sha256('other'), a.data));
    expect(wrong).toMatchObject({ code: 'hash_mismatch', status: 422, retryable: false });
    expect((await failure(client.getBlock(sha256('absent ' + randomUUID())))).code).toBe('not_found');
  });

  it('submits batches in both modes and reads them through the changes feed', async () => {
    await client.createFolder('beta');
    const f = testFile('beta file');
    await client.putBlock(f.hash, f.data);
    const sync = await client.submitBatch('beta', [upsert('a', 'one.txt', f, null)], { mode: 'sync' });
    expect('results' in sync && sync.results.a?.ok).toBe(true);
    const accepted = await client.submitBatch('beta', [upsert('b', 'two.txt', f, null), upsert('c', 'three.txt', f, null)], { mode: 'async' });
    expect(accepted).toMatchObject({ status: 'Queued' });
    const task = await waitUntil(async () => {
      const current = await client.getTask(accepted.taskId);
      return current.status === 'Completed' ? current : undefined;
    });
    expect(task.results?.b?.ok && task.results?.c?.ok).toBe(true);

    const first = await client.changesPage('beta', { limit: 2 });
    expect(first.items.map((i) => i.path)).toEqual(['one.txt', 'two.txt']);
    const second = await client.changesPage('beta', { next: first._links.next!.href });
    expect(second.items.map((i) => i.path)).toEqual(['three.txt']);
    const token = syncTokenFromHref(second._links['upcoming-modifications']!.href)!;
    expect((await client.changesPage('beta', { syncToken: token })).items).toEqual([]);
    const cursor = new URL(first._links.next!.href, 'http://x').searchParams.get('cursor')!;
    expect((await client.changesPage('beta', { cursor })).items).toHaveLength(1);

    expect(await client.waitForChanges('beta', token, 0)).toBe(false);
    const waiting = client.waitForChanges('beta', token, 20);
    await client.submitBatch('beta', [upsert('d', 'four.txt', f, null)]);
    expect(await waiting).toBe(true);
  });

  it('turns an aborted long poll into a non-retryable aborted error', async () => {
    await client.createFolder('gamma');
    const page = await client.changesPage('gamma');
    const token = syncTokenFromHref(page._links['upcoming-modifications']!.href)!;
    const controller = new AbortController();
    const waiting = client.waitForChanges('gamma', token, 60, controller.signal);
    controller.abort();
    expect(await failure(waiting)).toMatchObject({ code: 'aborted', retryable: false });
  });

  it('maps server errors to codes, statuses and retryability', async () => {
    const stranger = new SyncApiClient({ baseUrl: t.server.url, token: 'wrong', deviceId: 'x' });
    expect(await failure(stranger.listFolders())).toMatchObject({ code: 'unauthorized', status: 401, retryable: false });
    stranger.close();
    expect(await failure(client.submitBatch('nope', [upsert('k', 'a', testFile('x'), null)]))).toMatchObject({ code: 'not_found', status: 404, retryable: false });
    await client.createFolder('delta');
    expect(await failure(client.submitBatch('delta', [upsert('k', '../up', testFile('x'), null)]))).toMatchObject({ code: 'invalid_path', status: 400, retryable: false });
    expect(await failure(client.changesPage('delta', { syncToken: 'forged.token' }))).toMatchObject({ code: 'invalid_token', status: 400 });
  });

  it('reports a sync batch over budget as a retryable timeout; resubmitting the tracking id reaches the same task', async () => {
    await client.createFolder('slow');
    const f = testFile('slow file');
    await client.putBlock(f.hash, f.data);
    const trackingId = randomUUID();
    holdNewTasks = true;
    const timeout = await failure(client.submitBatch('slow', [upsert('k', 'slow.txt', f, null)], { trackingId }));
    holdNewTasks = false;
    expect(timeout).toMatchObject({ code: 'timeout', status: 504, retryable: true });
    const taskId = timeout.details?.taskId as string;
    expect(taskId).toBeTruthy();
    // Meanwhile another batch on the same path is refused as locked (retryable, with Retry-After).
    const locked = await failure(client.submitBatch('slow', [upsert('k', 'slow.txt', f, null)]));
    expect(locked).toMatchObject({ code: 'path_locked', status: 423, retryable: true, retryAfterSeconds: 1 });
    const again = await client.submitBatch('slow', [upsert('k', 'slow.txt', f, null)], { trackingId, mode: 'async' });
    expect(again.taskId).toBe(taskId);
    gate.release(taskId);
    await waitUntil(async () => (await client.getTask(taskId)).status === 'Completed');
  });

  it("tells its observer every request's outcome: an answer, a refusal with its status and code, no answer", async () => {
    const seen: string[] = [];
    const observer = { answered: () => seen.push('answered'), failed: (e: FerryError) => seen.push(`${e.code} ${e.status ?? '-'}`) };
    const observed = new SyncApiClient({ baseUrl: t.server.url, token: t.server.token, deviceId: 'laptop-1', observer });
    await observed.createFolder('observed');
    expect(await failure(observed.getBlock(sha256(`none ${randomUUID()}`)))).toMatchObject({ status: 404 });
    observed.close();
    const refused = new SyncApiClient({ baseUrl: t.server.url, token: 'wrong', deviceId: 'x', observer });
    await failure(refused.listFolders());
    refused.close();
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise<void>((r) => gone.close(() => r()));
    const unreachable = new SyncApiClient({ baseUrl: `http://127.0.0.1:${port}`, token: 't', deviceId: 'x', observer });
    await failure(unreachable.probe());
    unreachable.close();
    // One report per request (the create is one), each as the link watch needs it.
    expect(seen).toEqual(['answered', 'not_found 404', 'unauthorized 401', 'offline -']);
  });

  it('is offline when nothing listens', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const offline = new SyncApiClient({ baseUrl: `http://127.0.0.1:${port}`, token: 't', deviceId: 'x' });
    expect(await failure(offline.probe())).toMatchObject({ code: 'offline', retryable: true });
    offline.close();
  });
});

describe('against a misbehaving server', () => {
  type Reply = (req: IncomingMessage, res: ServerResponse) => void;
  let server: Server;
  let reply: Reply = (_req, res) => res.end();
  const seen: IncomingMessage[] = [];
  let hostile: SyncApiClient;

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req);
      req.resume();
      req.on('end', () => reply(req, res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    hostile = new SyncApiClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 'secret-token', deviceId: 'dev-9', runName: 'nightly', runStamp: new Date('2030-01-02T03:04:05Z') });
  });
  afterAll(async () => {
    hostile.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  it('sends the auth and correlation headers, reusing a given tracking id', async () => {
    reply = json(200, { folders: [] });
    await hostile.listFolders({ trackingId: 'retry-1' });
    await hostile.listFolders();
    const [a, b] = seen.slice(-2) as [IncomingMessage, IncomingMessage];
    expect(a.headers.authorization).toBe('Bearer secret-token');
    expect(a.headers['x-ferry-device']).toBe('dev-9');
    expect(a.headers['x-ferry-run']).toBe('nightly;2030-01-02T03:04:05.000Z');
    expect(a.headers['x-tracking-id']).toBe('retry-1');
    expect(b.headers['x-tracking-id']).toMatch(/^[0-9a-f-]{36}$/);
    await hostile.listFolders({ run: formatRunHeader('next-run', new Date('2030-02-01T00:00:00Z')) });
    expect(seen.at(-1)?.headers['x-ferry-run']).toBe('next-run;2030-02-01T00:00:00.000Z');
  });

  it('refuses malformed replies as retryable malformed_reply', async () => {
    reply = json(200, '{not json');
    expect(await failure(hostile.listFolders())).toMatchObject({ code: 'malformed_reply', retryable: true });
    reply = json(200, { folders: [{ id: '../evil' }] });
    expect(await failure(hostile.listFolders())).toMatchObject({ code: 'malformed_reply' });
    reply = json(200, { items: [{ path: 'a' }], _links: {} });
    expect(await failure(hostile.changesPage('f'))).toMatchObject({ code: 'malformed_reply' });
    reply = json(200, { taskId: 'x', status: 'Exploded' });
    expect(await failure(hostile.submitBatch('f', []))).toMatchObject({ code: 'malformed_reply' });
  });

  it('verifies block content and size', async () => {
    const hash = sha256('expected');
    reply = (_req, res) => res.end('something else');
    expect(await failure(hostile.getBlock(hash))).toMatchObject({ code: 'hash_mismatch', retryable: true });
    reply = (_req, res) => res.end(Buffer.alloc(4 * 1024 * 1024 + 10));
    expect(await failure(hostile.getBlock(hash))).toMatchObject({ code: 'malformed_reply' });
  });

  it('reads Retry-After and retryability from statuses and codes', async () => {
    reply = json(503, { code: 'unavailable', message: 'busy' }, { 'retry-after': '7' });
    expect(await failure(hostile.listFolders())).toMatchObject({ code: 'unavailable', status: 503, retryable: true, retryAfterSeconds: 7 });
    reply = json(429, { code: 'rate_limited', message: 'slow down' }, { 'retry-after': new Date(Date.now() + 30_000).toUTCString() });
    const limited = await failure(hostile.listFolders());
    expect(limited).toMatchObject({ code: 'rate_limited', retryable: true });
    expect(limited.retryAfterSeconds).toBeGreaterThanOrEqual(28);
    reply = (_req, res) => {
      res.writeHead(502);
      res.end('<html>bad gateway</html>');
    };
    expect(await failure(hostile.listFolders())).toMatchObject({ code: 'http_502', retryable: true });
    reply = json(409, { code: 'conflict', message: 'x' });
    expect(await failure(hostile.listFolders())).toMatchObject({ code: 'conflict', retryable: false });
    reply = json(413, { code: 'payload_too_large', message: 'x' });
    expect(await failure(hostile.listFolders())).toMatchObject({ code: 'payload_too_large', retryable: false });
  });

  it('treats a dropped connection as a retryable network error', async () => {
    reply = (req) => req.socket.destroy();
    expect(await failure(hostile.listFolders())).toMatchObject({ code: 'network', retryable: true });
  });

  it('never follows a next link to another origin', async () => {
    expect(await failure(hostile.changesPage('f', { next: 'http://evil.example/v1/folders/f/changes?cursor=x' }))).toMatchObject({ code: 'malformed_reply' });
  });
});
