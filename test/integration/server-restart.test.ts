import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Task } from '../../protocol';
import { TEST_BACKEND, freshRemoteStorage } from '../helpers/backends';
import { TaskGate, makeTempDir, serversPerTest, testFile, upsert, waitUntil } from '../helpers/server-harness';

// A restart is the same server started again on what it stored: its data directory, and in the
// vitest project `postgres` its database and bucket as well (the harness's restart() keeps them).
// The command's own flags, which touch no storage: test/integration/server-command-flags.test.ts.

const { cleanups, started } = serversPerTest();

describe('restart', () => {
  it('resumes tasks that were processing or queued when the server stopped', async () => {
    const gate = new TaskGate();
    const t = await started({ workers: 1, hooks: { beforeApply: gate.hook } });
    const files = [testFile('one'), testFile('two')];
    for (const f of files) await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data });
    await t.request('PUT', '/v1/folders/docs');
    const submit = (i: number) =>
      t.request('POST', '/v1/folders/docs/sync?mode=async', { body: { operations: [upsert('k', `file${i}.txt`, files[i]!, null)] }, trackingId: randomUUID() });
    const a = (await submit(0)).body.taskId as string;
    const b = (await submit(1)).body.taskId as string;
    await waitUntil(() => gate.held.has(a), 5000, 'first task processing');
    expect((await t.request('GET', `/v1/tasks/${a}`)).body.status).toBe('Processing');
    expect((await t.request('GET', `/v1/tasks/${b}`)).body.status).toBe('Queued');

    await t.restart({ hooks: {} });
    for (const id of [a, b]) {
      const task = await waitUntil(async () => {
        const body = Task.parse((await t.request('GET', `/v1/tasks/${id}`)).body);
        return body.status === 'Completed' ? body : undefined;
      });
      expect(task.results?.k?.ok).toBe(true);
    }
    const items = (await t.request('GET', '/v1/folders/docs/changes')).body.items as Array<{ path: string }>;
    expect(items.map((i) => i.path).sort()).toEqual(['file0.txt', 'file1.txt']);
  });

  it('resumes a task stopped between chunks without applying any operation twice', async () => {
    const gate = new TaskGate();
    let stoppedAt = 0;
    const t = await started({
      workers: 1,
      hooks: {
        afterChunk: (taskId, applied, signal) => {
          stoppedAt = applied;
          return gate.hook(taskId, signal);
        },
      },
    });
    const f = testFile('chunked');
    await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data });
    await t.request('PUT', '/v1/folders/big');
    const operations = Array.from({ length: 1200 }, (_, i) => upsert(`k${i}`, `dir/file-${i}.txt`, f, null));
    const taskId = (await t.request('POST', '/v1/folders/big/sync?mode=async', { body: { operations } })).body.taskId as string;
    await waitUntil(() => gate.held.has(taskId), 10_000, 'task stopped after its first chunk');
    expect(stoppedAt).toBe(500);
    const before = (await t.request('GET', '/v1/folders/big/changes?limit=10000')).body.items as Array<{ path: string; revision: string }>;
    expect(before).toHaveLength(500);

    await t.restart({ hooks: {} });
    const task = await waitUntil(async () => {
      const body = Task.parse((await t.request('GET', `/v1/tasks/${taskId}`)).body);
      return body.status === 'Completed' ? body : undefined;
    });
    expect(Object.values(task.results ?? {}).filter((r) => r.ok)).toHaveLength(1200);
    const after = (await t.request('GET', '/v1/folders/big/changes?limit=10000')).body.items as Array<{ path: string; revision: string }>;
    expect(after).toHaveLength(1200);
    // The first chunk kept its revisions: it was not applied a second time.
    const revisions = new Map(after.map((i) => [i.path, i.revision]));
    for (const item of before) expect(revisions.get(item.path)).toBe(item.revision);
    expect(task.results?.k0).toEqual({ ok: true, revision: revisions.get('dir/file-0.txt') });
  });

  it('keeps folders, blocks, tokens and the generated bearer token across a restart', async () => {
    const t = await started();
    const f = testFile('durable');
    await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data });
    await t.request('PUT', '/v1/folders/keep');
    const rev = (await t.request('POST', '/v1/folders/keep/sync', { body: { operations: [upsert('k', 'a.txt', f, null)] } })).body.results.k.revision;
    const href = (await t.request('GET', '/v1/folders/keep/changes')).body._links['upcoming-modifications'].href as string;
    const token = t.server.token;
    expect(t.server.tokenFile).toBe(path.join(t.dataDir, 'token'));
    expect((await fs.stat(t.server.tokenFile!)).mode & 0o777).toBe(0o600);
    expect(t.server.tokenCreated).toBe(true);
    // Hex, never a leading '-': a base64url token could start with one, and `--token VALUE`
    // was then refused as an option without its value (agent-cli, once in 64 runs).
    expect(token).toMatch(/^[0-9a-f]{64}$/);

    await t.restart();
    expect(t.server.token).toBe(token);
    expect(t.server.tokenCreated).toBe(false);
    expect((await t.request('GET', '/v1/folders')).body.folders.map((x: { id: string }) => x.id)).toEqual(['keep']);
    expect((await t.request('POST', '/v1/blocks/missing', { body: { hashes: [f.hash] } })).body.missing).toEqual([]);
    const incremental = await t.request('GET', href);
    expect(incremental.status).toBe(200);
    expect(incremental.body.items).toEqual([]);
    const next = await t.request('POST', '/v1/folders/keep/sync', { body: { operations: [upsert('k', 'a.txt', testFile(''), rev)] } });
    expect(Number(next.body.results.k.revision)).toBeGreaterThan(Number(rev));
  });
});

describe('ferry server command', () => {
  const entry = path.resolve(__dirname, '../helpers/server-cli-entry.ts');
  const run = (args: string[]) => spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = (child: ReturnType<typeof run>) => new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  it('prints its URL and token file, serves, and stops cleanly on SIGTERM', async () => {
    const dir = await makeTempDir();
    cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
    const own = TEST_BACKEND === 'postgres' ? await freshRemoteStorage() : null;
    if (own) cleanups.push(() => own.drop());
    const storage = own ? ['--db', own.options.dbUrl, '--blocks', own.options.blocksUrl] : [];
    const child = run(['--data', dir, '--port', '0', '--host', '127.0.0.1', ...storage]);
    const exit = exited(child);
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitUntil(() => out.split('\n').length >= 4, 20_000, 'server output');
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^Ferry server listening on http:\/\/127\.0\.0\.1:\d+$/);
    // The store it serves, the database's password left out.
    if (own) expect(lines[1]).toMatch(/^Storage: metadata in PostgreSQL postgres:\/\/[^:@/]+:\*\*\*@\S+; blocks in bucket '[^']+' at http:\/\/127\.0\.0\.1:\d+$/);
    else expect(lines[1]).toBe(`Storage: metadata in ${path.join(dir, 'server.db')}; blocks in ${path.join(dir, 'blocks')}`);
    expect(lines[2]).toBe(`Generated a token, saved in ${path.join(dir, 'token')}`);
    const url = lines[0]!.replace('Ferry server listening on ', '');
    const token = (await fs.readFile(path.join(dir, 'token'), 'utf8')).trim();
    expect((await fetch(`${url}/v1/folders`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(`${url}/v1/folders`)).status).toBe(401);
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    const log = await fs.readFile(path.join(dir, 'logs', 'server.log'), 'utf8');
    expect(log).toContain('trackingId=');
    expect(log).not.toContain(token);
  });
});
