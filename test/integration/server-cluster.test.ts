/**
 * Two real `ferry server` processes on one PostgreSQL and one bucket (docs/architecture.md,
 * "Server storage"): a client whose consecutive requests alternate between them sees one
 * server. Runs in the vitest project `postgres` only (it needs the run's PostgreSQL and S3).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchCompletedReply, ChangesPage, WaitReply } from '../../protocol';
import { DeleteBucketCommand } from '@aws-sdk/client-s3';
import { freshRemoteStorage, s3TestClient, type RemoteStorage } from '../helpers/backends';
import { startServer, type RunningServer } from '../../server/main';
import { openPostgresMetadata } from '../../server/storage/postgres';
import { LeaseLost, TaskLeases } from '../../server/task-leases';
import { TaskStore } from '../../server/task-store';
import { TaskGate, makeTempDir, testFile, upsert, waitUntil } from '../helpers/server-harness';

const entry = path.resolve(__dirname, '../helpers/server-cli-entry.ts');
const TOKEN = 'cluster-test-token-0123456789';

interface Proc {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

function run(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FERRY_SERVER_TOKEN: TOKEN },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

let storage: RemoteStorage;
const procs: Proc[] = [];
const dirs: string[] = [];

async function startProcess(): Promise<Proc> {
  const dir = await makeTempDir();
  dirs.push(dir);
  const p = run(['--data', dir, '--port', '0', '--host', '127.0.0.1', '--db', storage.options.dbUrl, '--blocks', storage.options.blocksUrl]);
  const line = await waitUntil(() => /listening on (\S+)/.exec(p.out())?.[1], 30_000, `server process to listen (stderr: ${p.err()})`);
  return { child: p.child, url: line, exited: p.exited };
}

async function call(p: Proc, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(p.url + urlPath, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'x-ferry-device': 'cluster-test', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: (body instanceof Uint8Array ? body : JSON.stringify(body)) as BodyInit }),
  });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw wire checks
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any };
}

/** The task once `p` reports it Completed (its results), waited for with a deadline. */
async function completedTask(p: Proc, taskId: string, timeoutMs: number, what: string) {
  return waitUntil(
    async () => {
      const task = (await call(p, 'GET', `/v1/tasks/${taskId}`)).body;
      return task.status === 'Completed' ? task : undefined;
    },
    timeoutMs,
    what,
  );
}

/** On `p`: a new folder, one file's block, and an async batch that creates `name` with it (key `k`). */
async function submitOneFile(p: Proc, folder: string, name: string, content: string) {
  expect((await call(p, 'PUT', `/v1/folders/${folder}`, {})).status).toBe(201);
  const f = testFile(content);
  expect((await call(p, 'PUT', `/v1/blocks/${f.hash}`, new Uint8Array(f.data))).status).toBe(201);
  const accepted = await call(p, 'POST', `/v1/folders/${folder}/sync?mode=async`, { operations: [upsert('k', name, f, null)] });
  expect(accepted.status).toBe(202);
  return { f, taskId: accepted.body.taskId as string };
}

beforeAll(async () => {
  storage = await freshRemoteStorage();
  procs.push(await startProcess(), await startProcess());
}, 90_000);

afterAll(async () => {
  for (const p of procs) {
    p.child.kill('SIGTERM');
    await p.exited;
  }
  await storage?.drop();
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
}, 60_000);

describe('two server processes on one PostgreSQL and one bucket', () => {
  it('serve one client whose requests alternate between them: blocks, folders, batches, tokens and replays are shared', async () => {
    const [a, b] = procs as [Proc, Proc];
    const f = testFile(`content ${randomUUID()}`);
    expect((await call(a, 'PUT', `/v1/blocks/${f.hash}`, new Uint8Array(f.data))).status).toBe(201);
    // The block uploaded through A is there for B.
    expect((await call(b, 'POST', '/v1/blocks/missing', { hashes: [f.hash] })).body).toEqual({ missing: [] });
    expect((await call(b, 'PUT', '/v1/folders/shared', {})).status).toBe(201);
    expect((await call(a, 'PUT', '/v1/folders/shared', {})).status).toBe(200);

    const trackingId = randomUUID();
    const first = await call(a, 'POST', '/v1/folders/shared/sync', { operations: [upsert('k', 'a.txt', f, null)] }, { 'x-tracking-id': trackingId });
    expect(first.status).toBe(200);
    const again = await call(b, 'POST', '/v1/folders/shared/sync', { operations: [upsert('k', 'a.txt', f, null)] }, { 'x-tracking-id': trackingId });
    // The repeat on the other process finds the same task: applied once.
    expect(again.body.taskId).toBe(first.body.taskId);
    expect(BatchCompletedReply.parse(again.body).results.k).toEqual(first.body.results.k);

    // A sync token issued by B verifies on A (one signing key in the database).
    const full = ChangesPage.parse((await call(b, 'GET', '/v1/folders/shared/changes')).body);
    expect(full.items.map((i) => i.path)).toEqual(['a.txt']);
    const next = full._links['upcoming-modifications']!.href;
    expect((await call(a, 'GET', next)).status).toBe(200);
    const fetched = await fetch(`${b.url}/v1/blocks/${f.hash}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(Buffer.from(await fetched.arrayBuffer())).toEqual(f.data);
  });

  it('wakes a long poll on one process when the other commits', async () => {
    const [a, b] = procs as [Proc, Proc];
    expect((await call(a, 'PUT', '/v1/folders/poll', {})).status).toBe(201);
    const page = ChangesPage.parse((await call(a, 'GET', '/v1/folders/poll/changes')).body);
    const token = new URL(page._links['upcoming-modifications']!.href, 'http://x').searchParams.get('syncToken')!;
    const started = performance.now();
    const waiting = call(b, 'GET', `/v1/folders/poll/changes/wait?syncToken=${token}&timeout=25`);
    // Give B's poll time to subscribe, by condition: B answers a probe only after it parsed ours.
    await call(b, 'GET', '/v1/folders/poll');
    const dir = await call(a, 'POST', '/v1/folders/poll/sync', { operations: [{ key: 'd', action: 'upsert', kind: 'dir', path: 'new', size: 0, mtime: 1, blocks: [], baseRevision: null }] });
    expect(dir.status).toBe(200);
    const committed = performance.now();
    const woke = WaitReply.parse((await waiting).body);
    expect(woke.changes).toBe(true);
    // Far inside the 25 s timeout: the commit's NOTIFY woke it, not the clock.
    expect(performance.now() - committed).toBeLessThan(5000);
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it('never lets the changes feed skip a commit when both processes write one folder at once', async () => {
    const [a, b] = procs as [Proc, Proc];
    expect((await call(a, 'PUT', '/v1/folders/race', {})).status).toBe(201);
    const seen = new Set<string>();
    let href = ChangesPage.parse((await call(a, 'GET', '/v1/folders/race/changes')).body)._links['upcoming-modifications']!.href;
    let writing = true;
    let turn = 0;
    // A reader that alternates processes and follows sync tokens while the writers commit.
    const reader = (async () => {
      while (writing || turn < 2) {
        const p = procs[turn++ % 2] as Proc;
        const page = ChangesPage.parse((await call(p, 'GET', href)).body);
        for (const item of page.items) seen.add(item.path);
        href = page._links['upcoming-modifications']?.href ?? page._links.next!.href;
        if (!writing) turn++;
      }
    })();
    const writes = Array.from({ length: 24 }, (_, i) =>
      call(i % 2 ? a : b, 'POST', '/v1/folders/race/sync', { operations: [{ key: 'd', action: 'upsert', kind: 'dir', path: `d${i}`, size: 0, mtime: 1, blocks: [], baseRevision: null }] }),
    );
    const answers = await Promise.all(writes);
    expect(answers.every((r) => r.status === 200)).toBe(true);
    writing = false;
    await reader;
    const final = ChangesPage.parse((await call(b, 'GET', href)).body);
    for (const item of final.items) seen.add(item.path);
    expect([...seen].sort()).toEqual(Array.from({ length: 24 }, (_, i) => `d${i}`).sort());
  });

  it('takes over the task of a process that stopped mid-task, once its lease ran out', async () => {
    const own = await freshRemoteStorage();
    const gate = new TaskGate();
    const dirA = await makeTempDir();
    const dirB = await makeTempDir();
    dirs.push(dirA, dirB);
    const base = { port: 0, host: '127.0.0.1', token: TOKEN, taskLeaseMs: 600, ...own.options };
    const a = await startServer({ ...base, dataDir: dirA, hooks: { beforeApply: gate.hook } });
    let b: RunningServer | undefined;
    try {
      const asA: Proc = { child: procs[0]!.child, url: a.url, exited: procs[0]!.exited };
      const { taskId } = await submitOneFile(asA, 'lease', 'l.txt', 'leased');
      await waitUntil(() => gate.held.has(taskId), 10_000, 'A holding the task');
      // A stops with the task claimed and unfinished: nobody renews its lease any more.
      await a.close();
      b = await startServer({ ...base, dataDir: dirB });
      const asB: Proc = { child: procs[1]!.child, url: b.url, exited: procs[1]!.exited };
      const done = await completedTask(asB, taskId, 20_000, 'B taking the task over');
      expect(done.results.k).toMatchObject({ ok: true });
      const page = ChangesPage.parse((await call(asB, 'GET', '/v1/folders/lease/changes')).body);
      expect(page.items.map((i) => i.path)).toEqual(['l.txt']);
    } finally {
      await a.close();
      await b?.close();
      await own.drop();
    }
  });

  it('chaos seed 21 (--backend postgres): a process killed mid-task frees its paths within 30 s: its task is taken over once its 10 s lease ran out', async () => {
    // A real process with the default lease, killed as its task runs: no hand-back, no upkeep.
    const killed = await startProcess();
    expect((await call(killed, 'PUT', '/v1/folders/killed', {})).status).toBe(201);
    const operations = Array.from({ length: 3_000 }, (_, i) => ({ key: `k${i}`, action: 'upsert', kind: 'dir', path: `d${i}`, size: 0, mtime: 1, blocks: [], baseRevision: null }));
    const accepted = await call(killed, 'POST', '/v1/folders/killed/sync?mode=async', { operations });
    expect(accepted.status).toBe(202);
    const taskId = accepted.body.taskId as string;
    await waitUntil(async () => (await call(killed, 'GET', `/v1/tasks/${taskId}`)).body.status === 'Processing', 20_000, 'the task running');
    killed.child.kill('SIGKILL');
    await killed.exited;
    const killedAt = Date.now();
    const other = procs[0]!;
    // Unfinished, and its paths held: a batch on one of them is refused meanwhile.
    expect((await call(other, 'GET', `/v1/tasks/${taskId}`)).body.status).toBe('Processing');
    const held = await call(other, 'POST', '/v1/folders/killed/sync?mode=sync', { operations: [{ ...operations[2_999], key: 'late' }] });
    expect(held.status).toBe(423);
    // With a 30 s lease the task (and its paths) waited up to 40 s, past what clients are given.
    // Now 10 s, then the takeover runs the 3,000 operations again: a full test run on two cores
    // stretched that past 20 s once, so the bound is 30 s from the kill (a 30 s lease still fails it).
    const done = await completedTask(other, taskId, 30_000 - (Date.now() - killedAt), 'another process taking the task over');
    expect(Object.values(done.results).every((r) => (r as { ok: boolean }).ok)).toBe(true);
    const page = ChangesPage.parse((await call(other, 'GET', '/v1/folders/killed/changes?limit=10000')).body);
    expect(page.items).toHaveLength(3_000);
  }, 60_000);

  it('chaos seed 36 (--backend postgres): a task whose run ended without an outcome it could write runs again in its own process once its lease ran out', async () => {
    const own = await freshRemoteStorage();
    const dir = await makeTempDir();
    dirs.push(dir);
    let first = true;
    const outcomes: string[] = [];
    const a = await startServer({
      port: 0,
      host: '127.0.0.1',
      token: TOKEN,
      taskLeaseMs: 600,
      ...own.options,
      dataDir: dir,
      hooks: {
        // The first run ends with nothing written, as when PostgreSQL restarted under its status
        // write; the process lives on, and nobody renews the task's lease any more.
        beforeApply: async (id) => {
          if (!first) return;
          first = false;
          throw new LeaseLost(id);
        },
        afterTask: (_id, outcome) => outcomes.push(outcome),
      },
    });
    try {
      const asA: Proc = { child: procs[0]!.child, url: a.url, exited: procs[0]!.exited };
      const { taskId } = await submitOneFile(asA, 'rerun', 'r.txt', 'run again');
      // Before, it stayed Processing for ever and held r.txt: every later batch on it was path_locked.
      const done = await completedTask(asA, taskId, 20_000, 'the same process running the task again');
      expect(done.results.k).toMatchObject({ ok: true });
      // The hook runs after the run wrote its status, which a poll may read first.
      await waitUntil(() => outcomes.length >= 2, 10_000, 'the second run reported to the hook');
      expect(outcomes).toEqual(['lease_lost', 'completed']);
    } finally {
      await a.close();
      await own.drop();
    }
  });

  /** A in this process, its gate holding a task on p.txt mid-run; B is the real child process. */
  async function holdingOnA(folder: string) {
    const gate = new TaskGate();
    const dirA = await makeTempDir();
    dirs.push(dirA);
    const a = await startServer({ port: 0, host: '127.0.0.1', token: TOKEN, ...storage.options, dataDir: dirA, hooks: { beforeApply: gate.hook } });
    const close = async (): Promise<void> => {
      gate.release();
      await a.close();
    };
    try {
      const asA: Proc = { child: procs[0]!.child, url: a.url, exited: procs[0]!.exited };
      const { f, taskId } = await submitOneFile(asA, folder, 'p.txt', `held ${randomUUID()}`);
      await waitUntil(() => gate.held.has(taskId), 10_000, 'A holding p.txt');
      return { gate, asA, b: procs[1]!, f, taskId, close };
    } catch (error) {
      await close();
      throw error;
    }
  }

  it('refuses with path_locked, on another process, a batch touching a path a task on the first holds', async () => {
    const { gate, b, f, taskId, close } = await holdingOnA('locks');
    try {
      // The other process refuses what touches p.txt, as one process would: async and sync.
      const trackingId = randomUUID();
      const g = testFile(`other ${randomUUID()}`);
      expect((await call(b, 'PUT', `/v1/blocks/${g.hash}`, new Uint8Array(g.data))).status).toBe(201);
      const bBody = { operations: [upsert('other', 'q.txt', g, null), upsert('k', 'p.txt', g, null)] };
      const refused = await call(b, 'POST', '/v1/folders/locks/sync?mode=async', bBody, { 'x-tracking-id': trackingId });
      expect(refused.status).toBe(202);
      const failed = await waitUntil(
        async () => {
          const task = (await call(b, 'GET', `/v1/tasks/${refused.body.taskId}`)).body;
          return task.status === 'Failed' ? task : undefined;
        },
        20_000,
        'B refusing the batch',
      );
      expect(failed.error.code).toBe('path_locked');
      const sync = await call(b, 'POST', '/v1/folders/locks/sync?mode=sync', { operations: [upsert('k', 'p.txt', f, null)] });
      expect(sync.status).toBe(423);
      expect(sync.body.code).toBe('path_locked');
      // Nothing of the refused batch was applied: q.txt is not there either.
      expect(ChangesPage.parse((await call(b, 'GET', '/v1/folders/locks/changes')).body).items).toEqual([]);
      // A path nobody holds goes through on B meanwhile.
      expect((await call(b, 'POST', '/v1/folders/locks/sync?mode=sync', { operations: [upsert('free', 'r.txt', f, null)] })).status).toBe(200);

      // Released with the task: once A finishes, B runs the resubmitted batch.
      gate.release(taskId);
      await waitUntil(async () => (await call(b, 'GET', `/v1/tasks/${taskId}`)).body.status === 'Completed', 20_000, 'A finishing');
      const rerun = await call(b, 'POST', '/v1/folders/locks/sync?mode=sync', bBody, { 'x-tracking-id': trackingId });
      expect(rerun.status).toBe(200);
      expect(rerun.body.results.other.ok).toBe(true);
      expect(rerun.body.results.k).toMatchObject({ ok: false, code: 'conflict' });
    } finally {
      await close();
    }
  });

  it('runs at once, resubmitted to another process, a batch one process refused with path_locked (chaos seed 7, --backend postgres --servers 2)', async () => {
    const { gate, asA, b, f, taskId, close } = await holdingOnA('relock');
    try {
      // B takes the batch (its task's lease with it) and refuses it: p.txt is held.
      const trackingId = randomUUID();
      const body = { operations: [upsert('other', 'q.txt', f, null), upsert('k', 'p.txt', f, null)] };
      const refused = await call(b, 'POST', '/v1/folders/relock/sync?mode=sync', body, { 'x-tracking-id': trackingId });
      expect(refused.status).toBe(423);
      gate.release();
      await waitUntil(async () => (await call(asA, 'GET', `/v1/tasks/${taskId}`)).body.status === 'Completed', 20_000, 'A finishing');
      // The client's retry lands on A (a load balancer's next pick): A runs it now, within the
      // sync budget, instead of waiting out the lease B took for the run it refused.
      const started = Date.now();
      const rerun = await call(asA, 'POST', '/v1/folders/relock/sync?mode=sync', body, { 'x-tracking-id': trackingId });
      expect(rerun.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(rerun.body.results.other.ok).toBe(true);
    } finally {
      await close();
    }
  });

  it('refuses the late commit of a process whose task another took over after its lease ran out', async () => {
    const own = await freshRemoteStorage();
    const dirA = await makeTempDir();
    const dirB = await makeTempDir();
    dirs.push(dirA, dirB);
    // A's clock falls an hour behind mid-task: its renewals land in the past, as if it had
    // frozen (a long pause, a stopped VM) while still holding the task.
    let skew = 0;
    let resumeA!: () => void;
    const aPaused = new Promise<void>((resolve) => (resumeA = resolve));
    let aAtChunk = false;
    const outcomes: string[] = [];
    const base = { port: 0, host: '127.0.0.1', token: TOKEN, taskLeaseMs: 600, ...own.options };
    const a = await startServer({
      ...base,
      dataDir: dirA,
      clock: () => Date.now() + skew,
      hooks: {
        afterChunk: async () => {
          skew = -3600_000;
          aAtChunk = true;
          await aPaused;
        },
        afterTask: (_id, outcome) => outcomes.push(outcome),
      },
    });
    let b: RunningServer | undefined;
    try {
      const asA: Proc = { child: procs[0]!.child, url: a.url, exited: procs[0]!.exited };
      expect((await call(asA, 'PUT', '/v1/folders/fence', {})).status).toBe(201);
      // More than one chunk (500 operations): A commits the first, then stalls before the second.
      const operations = Array.from({ length: 501 }, (_, i) => ({ key: `k${i}`, action: 'upsert', kind: 'dir', path: `d${i}`, size: 0, mtime: 1, blocks: [], baseRevision: null }));
      const accepted = await call(asA, 'POST', '/v1/folders/fence/sync?mode=async', { operations });
      expect(accepted.status).toBe(202);
      const taskId = accepted.body.taskId as string;
      await waitUntil(() => aAtChunk, 20_000, 'A pausing after its first chunk');
      b = await startServer({ ...base, dataDir: dirB });
      const asB: Proc = { child: procs[1]!.child, url: b.url, exited: procs[1]!.exited };
      const done = await completedTask(asB, taskId, 20_000, 'B taking the task over and finishing it');
      expect(Object.values(done.results).every((r) => (r as { ok: boolean }).ok)).toBe(true);
      const feedBefore = ChangesPage.parse((await call(asB, 'GET', '/v1/folders/fence/changes?limit=1000')).body);

      // A wakes and tries to commit its second chunk: refused, it stops, nothing changes.
      resumeA();
      await waitUntil(() => outcomes.length > 0, 20_000, 'A ending its run');
      expect(outcomes).toEqual(['lease_lost']);
      const after = (await call(asB, 'GET', `/v1/tasks/${taskId}`)).body;
      expect(after.status).toBe('Completed');
      expect(after.results).toEqual(done.results);
      const feedAfter = ChangesPage.parse((await call(asB, 'GET', '/v1/folders/fence/changes?limit=1000')).body);
      expect(feedAfter.items).toEqual(feedBefore.items);
      expect(feedAfter.items).toHaveLength(501);
    } finally {
      resumeA();
      await a.close();
      await b?.close();
      await own.drop();
    }
  }, 60_000);

  type CallResult = Awaited<ReturnType<typeof call>>;
  /**
   * Two server processes on a fresh database and bucket; `holdGc()` starts a collection on B and
   * resolves once it knows its live set, holding it there until `releaseGc()` (`result` is its
   * answer). `admin` looks at this database's advisory locks (`advisory`: other test files'
   * servers share the PostgreSQL).
   */
  async function withHeldGc(
    run: (rig: { own: RemoteStorage; asA: Proc; asB: Proc; admin: pg.Client; advisory: string; holdGc: () => Promise<{ result: Promise<CallResult> }>; releaseGc: () => void }) => Promise<void>,
  ): Promise<void> {
    const own = await freshRemoteStorage();
    const dirA = await makeTempDir();
    const dirB = await makeTempDir();
    dirs.push(dirA, dirB);
    let releaseGc!: () => void;
    const gcHeld = new Promise<void>((resolve) => (releaseGc = resolve));
    let marked = false;
    const base = { port: 0, host: '127.0.0.1', token: TOKEN, gcGraceMs: 0, gcIntervalMs: 0, ...own.options };
    const a = await startServer({ ...base, dataDir: dirA });
    const b = await startServer({ ...base, dataDir: dirB, gcAfterMark: async () => { marked = true; await gcHeld; } });
    const admin = new pg.Client({ connectionString: own.options.dbUrl });
    await admin.connect();
    const asA: Proc = { child: procs[0]!.child, url: a.url, exited: procs[0]!.exited };
    const asB: Proc = { child: procs[1]!.child, url: b.url, exited: procs[1]!.exited };
    const holdGc = async () => {
      const result = call(asB, 'POST', '/v1/maintenance/gc', {});
      await waitUntil(() => marked, 20_000, "B's collection knowing its live set");
      return { result };
    };
    const advisory = "locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    try {
      await run({ own, asA, asB, admin, advisory, holdGc, releaseGc });
    } finally {
      releaseGc();
      await admin.end();
      await a.close();
      await b.close();
      await own.drop();
    }
  }

  // GC in one process, a commit in another (issue 19): B's collection had its live set when A
  // took a batch whose block nothing referred to yet. A's in-process fence knows nothing of B,
  // so A looked the block up (present), B removed it, and A committed a revision whose block was
  // gone. Refused: a batch waits out a collection of any process before it looks its blocks up,
  // and a commit after one looks them up again, so the block answers missing_blocks.
  it('never commits a revision whose block another process collected meanwhile: it answers missing_blocks', () =>
    withHeldGc(async ({ own, asA, asB, admin, advisory, holdGc, releaseGc }) => {
      expect((await call(asA, 'PUT', '/v1/folders/gc-race', {})).status).toBe(201);
      const f = testFile(`collected while a commit looked ${randomUUID()}`);
      expect((await call(asA, 'PUT', `/v1/blocks/${f.hash}`, new Uint8Array(f.data))).status).toBe(201);
      const gc = await holdGc();
      const accepted = await call(asA, 'POST', '/v1/folders/gc-race/sync?mode=async', { operations: [upsert('k', 'late.txt', f, null)] });
      expect(accepted.status).toBe(202);
      // A's batch waits for B's collection (an advisory lock PostgreSQL shows as not granted).
      await waitUntil(async () => (await admin.query(`SELECT 1 FROM pg_locks WHERE ${advisory} AND NOT granted`)).rowCount! > 0, 20_000, "A's batch waiting for B's collection");
      releaseGc();
      expect((await gc.result).body).toMatchObject({ blocksCollected: 1 });
      const done = await completedTask(asA, accepted.body.taskId as string, 20_000, "A's batch");
      expect(done.results.k).toMatchObject({ ok: false, code: 'missing_blocks' });
      expect(await own.readObject(f.hash)).toBeNull();
      // Uploaded again, it commits, and the revision's block is there.
      expect((await call(asA, 'PUT', `/v1/blocks/${f.hash}`, new Uint8Array(f.data))).status).toBe(201);
      const again = await call(asB, 'POST', '/v1/folders/gc-race/sync', { operations: [upsert('k2', 'late.txt', f, null)] });
      expect(again.body.results.k2).toMatchObject({ ok: true });
      expect(await own.readObject(f.hash)).toEqual(f.data);
    }), 60_000);

  // Found by review: the connection holding B's collection lock was ended by PostgreSQL (a
  // restart, idle_session_timeout, a proxy cutting an idle connection), which let the lock go.
  // A's commit of a block B's live set did not hold then went through unfenced, and B's sweep,
  // going on with that live set, deleted the block of a committed revision. Refused: a
  // collection that lost its lock removes nothing more, and its lock connection never idles out.
  it('a collection whose lock connection is lost removes nothing more: the block a commit on another process referred to stays', () =>
    withHeldGc(async ({ own, asA, admin, advisory, holdGc, releaseGc }) => {
      expect((await call(asA, 'PUT', '/v1/folders/gc-lost', {})).status).toBe(201);
      const f = testFile(`uploaded, not yet committed ${randomUUID()}`);
      expect((await call(asA, 'PUT', `/v1/blocks/${f.hash}`, new Uint8Array(f.data))).status).toBe(201);
      // The object's write time (one-second steps) is before B's cutoff: it is garbage to B.
      await waitUntil(async () => (await own.listObjects()).every((o) => o.writtenAt < Date.now() - 1000), 5000, 'the block older than the cutoff');
      const gc = await holdGc();
      const holder = await admin.query(`SELECT pid FROM pg_locks WHERE ${advisory} AND granted AND mode = 'ExclusiveLock'`);
      expect(holder.rowCount).toBe(1);
      await admin.query('SELECT pg_terminate_backend($1)', [holder.rows[0].pid]);
      await waitUntil(async () => (await admin.query(`SELECT 1 FROM pg_locks WHERE ${advisory}`)).rowCount === 0, 10_000, 'the lock gone with its connection');
      // A's commit is no longer fenced, and goes through.
      const done = await call(asA, 'POST', '/v1/folders/gc-lost/sync', { operations: [upsert('k', 'kept.txt', f, null)] });
      expect(done.body.results.k).toMatchObject({ ok: true });
      releaseGc();
      // B's collection stops without removing anything; the committed revision's block stays.
      expect((await gc.result).status).toBeGreaterThanOrEqual(500);
      expect(await own.readObject(f.hash)).toEqual(f.data);
    }), 60_000);

  // A process whose task another took over (its lease ran out) must not write the task's
  // status afterwards: a late 'Failed' over the new owner's run made clients see a failure of
  // operations that were applied. Refused: status writes of a run hold only under its lease.
  it('refuses the status write of a process whose task another took over', async () => {
    const own = await freshRemoteStorage();
    const db = await openPostgresMetadata(own.options.dbUrl);
    try {
      let now = Date.now();
      const store = new TaskStore(db, () => now);
      const a = new TaskLeases(db, 1000, () => now);
      const b = new TaskLeases(db, 1000, () => now);
      await store.insert({ id: 'late', trackingId: null, fingerprint: 'f', folderId: 'docs', singleOperation: false, operations: [], device: 'd', run: 'r' });
      expect(await a.claim('late')).toBe(true);
      expect(await store.setStatus('late', 'Processing', undefined, a.owner)).toBe(true);
      now += 5000; // A froze past its lease; B takes the task over.
      expect(await b.claim('late')).toBe(true);
      expect(await store.setStatus('late', 'Failed', { code: 'internal', message: 'late' }, a.owner)).toBe(false);
      expect(await store.byId('late')).toMatchObject({ status: 'Processing', error_code: null });
      expect(await store.setStatus('late', 'Completed', undefined, b.owner)).toBe(true);
      expect(await store.byId('late')).toMatchObject({ status: 'Completed' });
    } finally {
      await db.close();
      await own.drop();
    }
  });

  it('hands its unfinished tasks back when it shuts down, and another process takes them at once', async () => {
    const own = await freshRemoteStorage();
    const gate = new TaskGate();
    const dirA = await makeTempDir();
    const dirB = await makeTempDir();
    dirs.push(dirA, dirB);
    // Leases of a minute, renewed every 20 s: without the hand-back B would not see the task for a minute.
    const base = { port: 0, host: '127.0.0.1', token: TOKEN, taskLeaseMs: 60_000, ...own.options };
    const a = await startServer({ ...base, dataDir: dirA, hooks: { beforeApply: gate.hook } });
    const b = await startServer({ ...base, dataDir: dirB });
    try {
      const asA: Proc = { child: procs[0]!.child, url: a.url, exited: procs[0]!.exited };
      const asB: Proc = { child: procs[1]!.child, url: b.url, exited: procs[1]!.exited };
      expect((await call(asA, 'PUT', '/v1/folders/handback', {})).status).toBe(201);
      const accepted = await call(asA, 'POST', '/v1/folders/handback/sync?mode=async', { operations: [{ key: 'd', action: 'upsert', kind: 'dir', path: 'kept', size: 0, mtime: 1, blocks: [], baseRevision: null }] });
      expect(accepted.status).toBe(202);
      const taskId = accepted.body.taskId as string;
      await waitUntil(() => gate.held.has(taskId), 10_000, 'A running the task');
      // A's grace runs out with the task still held: it stops the task and hands it back.
      const stopping = performance.now();
      await a.close(300);
      const handedBackAt = performance.now();
      expect(handedBackAt - stopping).toBeLessThan(15_000);
      const done = await completedTask(asB, taskId, 15_000, 'B taking the handed-back task over');
      expect(done.results.d).toMatchObject({ ok: true });
      expect(performance.now() - handedBackAt).toBeLessThan(15_000);
    } finally {
      gate.release();
      await a.close();
      await b.close();
      await own.drop();
    }
  }, 60_000);

  it('lets idle processes claim queued tasks nobody started, each task by one of them only', async () => {
    const own = await freshRemoteStorage();
    const gate = new TaskGate();
    const dirs3 = [await makeTempDir(), await makeTempDir(), await makeTempDir()];
    dirs.push(...dirs3);
    const base = { port: 0, host: '127.0.0.1', token: TOKEN, taskLeaseMs: 600, ...own.options };
    // A takes the batches but its one worker is held by the first: the rest wait in its queue.
    const a = await startServer({ ...base, dataDir: dirs3[0]!, workers: 1, hooks: { beforeApply: gate.hook } });
    const ran = new Map<string, string[]>([
      ['b', []],
      ['c', []],
    ]);
    const helper = (name: string, dataDir: string) =>
      startServer({ ...base, dataDir, workers: 2, hooks: { afterTask: (id, outcome) => outcome === 'completed' && ran.get(name)!.push(id) } });
    const b = await helper('b', dirs3[1]!);
    const c = await helper('c', dirs3[2]!);
    try {
      const asA: Proc = { child: procs[0]!.child, url: a.url, exited: procs[0]!.exited };
      expect((await call(asA, 'PUT', '/v1/folders/claims', {})).status).toBe(201);
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const accepted = await call(asA, 'POST', '/v1/folders/claims/sync?mode=async', { operations: [{ key: 'd', action: 'upsert', kind: 'dir', path: `d${i}`, size: 0, mtime: 1, blocks: [], baseRevision: null }] });
        expect(accepted.status).toBe(202);
        ids.push(accepted.body.taskId as string);
      }
      await waitUntil(() => gate.held.has(ids[0]!), 10_000, 'A running the first task');
      const rest = ids.slice(1);
      const byB = ran.get('b')!;
      const byC = ran.get('c')!;
      // Completed in the store first, then the process's afterTask hook: wait for both.
      await waitUntil(
        async () => {
          for (const id of rest) if ((await call(asA, 'GET', `/v1/tasks/${id}`)).body.status !== 'Completed') return false;
          return byB.length + byC.length >= rest.length;
        },
        30_000,
        'B and C running the queued tasks',
      );
      // Disjoint, and together every queued task exactly once; the held one stays A's.
      expect(byB.filter((id) => byC.includes(id))).toEqual([]);
      expect([...byB, ...byC].sort()).toEqual([...rest].sort());
      expect((await call(asA, 'GET', `/v1/tasks/${ids[0]}`)).body.status).toBe('Processing');
      gate.release();
      await waitUntil(async () => (await call(asA, 'GET', `/v1/tasks/${ids[0]}`)).body.status === 'Completed', 20_000, 'A finishing its task');
      const page = ChangesPage.parse((await call(asA, 'GET', '/v1/folders/claims/changes')).body);
      expect(page.items.map((i) => i.path).sort()).toEqual(ids.map((_, i) => `d${i}`).sort());
    } finally {
      gate.release();
      await a.close();
      await b.close();
      await c.close();
      await own.drop();
    }
  }, 60_000);

  it('`ferry server migrate` migrates a database and makes a bucket, each once; a bad --db or --blocks URL is refused with its code', async () => {
    const fresh = await freshRemoteStorage();
    try {
      const first = run(['migrate', '--db', fresh.options.dbUrl]);
      expect(await first.exited).toBe(0);
      expect(first.out()).toMatch(/^Migrated postgres:\/\/\S+ from schema version 0 to \d+\n$/);
      expect(first.out()).not.toContain(new URL(fresh.options.dbUrl).password);
      const again = run(['migrate', '--db', fresh.options.dbUrl]);
      expect(await again.exited).toBe(0);
      expect(again.out()).toMatch(/ is at schema version \d+ already: nothing to do\n$/);
    } finally {
      await fresh.drop();
    }
    const badDb = run(['--data', dirs[0]!, '--db', 'mysql://x/y']);
    expect(await badDb.exited).toBe(2);
    expect(badDb.err()).toContain('invalid_storage_url');
    const badBlocks = run(['--data', dirs[0]!, '--blocks', 's3://?endpoint=ftp://x']);
    expect(await badBlocks.exited).toBe(2);
    expect(badBlocks.err()).toContain('invalid_storage_url');
    expect(await run(['migrate', '--blocks', 's3://?endpoint=ftp://x']).exited).toBe(2);
  }, 120_000);

  it('a server on a bucket that does not exist says so and how to make it; `ferry server migrate --blocks` makes it', async () => {
    const bucket = `ferry-t-made-${randomUUID().slice(0, 8)}`;
    const blocksUrl = storage.options.blocksUrl.replace(/^s3:\/\/[^?]+/, `s3://${bucket}`);
    const dir = await makeTempDir();
    dirs.push(dir);
    // Metadata shared, blocks not: said at the start, since other processes could not read them.
    const blocksHere = run(['--data', dir, '--port', '0', '--db', storage.options.dbUrl]);
    await waitUntil(() => /listening on/.test(blocksHere.out()) && /Warning/.test(blocksHere.err()), 30_000, `the --db-only server to start (stderr: ${blocksHere.err()})`);
    expect(blocksHere.err()).toContain(`Warning: --db without --blocks keeps blocks in ${path.join(dir, 'blocks')}, which other server processes on this database cannot read`);
    blocksHere.child.kill('SIGTERM');
    expect(await blocksHere.exited).toBe(0);
    const missing = run(['--data', dir, '--port', '0', '--db', storage.options.dbUrl, '--blocks', blocksUrl]);
    expect(await missing.exited).toBe(1);
    expect(missing.err()).toContain(`Bucket '${bucket}' does not exist at http://127.0.0.1:`);
    expect(missing.err()).toContain("run 'ferry server migrate --blocks URL', which does (storage_unavailable)");
    // The AWS SDK's notice about its future Node versions is not the operator's business.
    expect(missing.err()).not.toContain('NodeVersionSupportWarning');
    const made = run(['migrate', '--blocks', blocksUrl]);
    expect(await made.exited).toBe(0);
    expect(made.out()).toBe(`Created bucket '${bucket}': blocks go under 'blocks/'\n`);
    const again = run(['migrate', '--blocks', blocksUrl]);
    expect(await again.exited).toBe(0);
    expect(again.out()).toBe(`Bucket '${bucket}' exists: blocks go under 'blocks/'\n`);
    const p = run(['--data', dir, '--port', '0', '--db', storage.options.dbUrl, '--blocks', blocksUrl]);
    const url = await waitUntil(() => /listening on (\S+)/.exec(p.out())?.[1], 30_000, `server on the made bucket to listen (stderr: ${p.err()})`);
    try {
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      // It names the store it serves (a process started without --db would serve another), never the password.
      await waitUntil(() => p.out().includes('\nStorage: '), 10_000, 'the storage line');
      expect(p.out()).toContain(`Storage: metadata in PostgreSQL postgres://postgres:***@`);
      expect(p.out()).toContain(`; blocks in bucket '${bucket}' at http://127.0.0.1:`);
    } finally {
      p.child.kill('SIGTERM');
      await p.exited;
      const s3 = s3TestClient();
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      s3.destroy();
    }
  }, 120_000);
});
