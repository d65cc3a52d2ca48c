import Database from 'better-sqlite3';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, expect } from 'vitest';
import { BatchCompletedReply } from '../../protocol';
import { startServer, type RunningServer, type ServerOptions } from '../../server/main';
import { TEST_BACKEND, freshRemoteStorage, type RemoteStorage } from './backends';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  body?: unknown;
  raw?: Buffer | string;
  headers?: Record<string, string>;
  token?: string | null;
  trackingId?: string;
}

/** A real server on loopback over a temp data dir, plus a thin fetch helper for raw wire checks. */
export interface TestServer {
  server: RunningServer;
  dataDir: string;
  // Raw wire checks read deep into arbitrary JSON; `any` keeps those assertions short.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request<T = any>(method: string, urlPath: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  restart(overrides?: Partial<ServerOptions>): Promise<void>;
  close(): Promise<void>;
  /** The bytes the block store holds for `hash` (a file in the data directory, or an object in the bucket), or null. */
  storedBlock(hash: string): Promise<Buffer | null>;
  /** Bytes the block store holds: block files and packs in the data directory, or the bucket's objects. */
  storedBytes(): Promise<number>;
  /**
   * When the store wrote a block kept whole (a block file's mtime, a bucket object's
   * LastModified: what GC's grace period compares), or null when there is no such file or object.
   */
  storedBlockWrittenAt(hash: string): Promise<number | null>;
  /** Removes a stored block behind the server's back (as garbage collection would have). */
  removeStoredBlock(hash: string): Promise<void>;
  /** Keeps only the first `bytes` of a stored block (a block file, or a bucket object): a partial object left by a cut-off overwrite. */
  truncateStoredBlock(hash: string, bytes: number): Promise<void>;
  /** Temp files of uploads left behind (the disk store; a bucket object is whole or absent). */
  uploadLeftovers(): Promise<string[]>;
  /** Where `ferry server user|pair|devices|revoke|share` find this server's accounts: `--data DIR` or `--db URL`. */
  accountFlags: string[];
}

export async function makeTempDir(prefix = 'ferry-server-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function startTestServer(options: Partial<ServerOptions> = {}, dataDir?: string): Promise<TestServer> {
  const dir = dataDir ?? (await makeTempDir());
  // In the `postgres` project every test server runs on its own database and bucket.
  const remote: RemoteStorage | null = TEST_BACKEND === 'postgres' && !options.dbUrl ? await freshRemoteStorage() : null;
  // A round trip to PostgreSQL costs more than a SQLite call, and more again on a loaded machine:
  // a batch of hundreds of operations gets a budget that tests its result, not its latency.
  const syncBudgetMs = remote ? 30_000 : 5000;
  const base: ServerOptions = { dataDir: dir, port: 0, host: '127.0.0.1', workers: 2, syncBudgetMs, ...remote?.options, ...options };
  let server = await startServer(base);
  // The disk store's file of a block kept whole (blocks in packs have none).
  const blockFile = (hash: string): string => path.join(dir, 'blocks', hash.slice(0, 2), hash.slice(2, 4), hash);
  const harness: TestServer = {
    get server() {
      return server;
    },
    dataDir: dir,
    accountFlags: base.dbUrl ? ['--db', base.dbUrl] : ['--data', dir],
    async request(method, urlPath, o = {}) {
      const headers: Record<string, string> = { 'x-ferry-device': 'test-device', 'x-ferry-run': 'test;2024-01-01T00:00:00Z', ...o.headers };
      const token = o.token === undefined ? server.token : o.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (o.trackingId) headers['x-tracking-id'] = o.trackingId;
      let body: Buffer | string | undefined = o.raw;
      if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] = 'application/json';
      }
      const payload = typeof body === 'string' || body === undefined ? body : new Uint8Array(body);
      const res = await fetch(server.url + urlPath, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: keep the text */
      }
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see request()
      return { status: res.status, body: parsed as any, headers: res.headers };
    },
    async restart(overrides = {}) {
      await server.close();
      server = await startServer({ ...base, ...overrides });
    },
    async storedBlock(hash) {
      if (remote) return remote.readObject(hash);
      try {
        return await fs.readFile(blockFile(hash));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async storedBytes() {
      if (remote) return (await remote.listObjects()).reduce((sum, o) => sum + o.size, 0);
      let total = 0;
      const walk = async (at: string): Promise<void> => {
        for (const entry of await fs.readdir(at, { withFileTypes: true })) {
          const p = path.join(at, entry.name);
          if (entry.isDirectory()) await walk(p);
          else total += (await fs.stat(p)).size;
        }
      };
      await walk(path.join(dir, 'blocks'));
      return total;
    },
    async storedBlockWrittenAt(hash) {
      if (remote) return (await remote.listObjects()).find((o) => o.hash === hash)?.writtenAt ?? null;
      try {
        return (await fs.stat(blockFile(hash))).mtimeMs;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async removeStoredBlock(hash) {
      if (remote) await remote.removeObject(hash);
      else await fs.rm(blockFile(hash));
    },
    async truncateStoredBlock(hash, bytes) {
      if (remote) await remote.writeObject(hash, (await remote.readObject(hash))!.subarray(0, bytes));
      else await fs.truncate(blockFile(hash), bytes);
    },
    async uploadLeftovers() {
      return remote ? [] : fs.readdir(path.join(dir, 'blocks', 'tmp'));
    },
    async close() {
      await server.close();
      await remote?.drop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/**
 * Per-test clean-up for a test file: `cleanups` run after each test, last first, and
 * `started` starts a test server that is closed with them.
 */
export function serversPerTest(): { cleanups: Array<() => unknown>; started(options?: Partial<ServerOptions>): Promise<TestServer> } {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    cleanups,
    async started(options = {}) {
      const t = await startTestServer(options);
      cleanups.push(() => t.close());
      return t;
    },
  };
}

/** Every row of each table, as the server's database (SQLite or PostgreSQL) holds them. */
export async function tableRows(t: TestServer, tables: string[]): Promise<unknown[][]> {
  const [flag, where] = t.accountFlags as [string, string];
  if (flag === '--db') {
    const client = new pg.Client({ connectionString: where });
    await client.connect();
    try {
      const rows = [];
      for (const table of tables) rows.push((await client.query(`SELECT * FROM ${table}`)).rows);
      return rows;
    } finally {
      await client.end();
    }
  }
  const db = new Database(path.join(where, 'server.db'), { readonly: true });
  try {
    return tables.map((table) => db.prepare(`SELECT * FROM ${table}`).all());
  } finally {
    db.close();
  }
}

/** A new folder on the server, its id `prefix-` and 8 random hex digits. */
export async function newFolder(t: TestServer, prefix: string): Promise<string> {
  const id = `${prefix}-${randomUUID().slice(0, 8)}`;
  expect((await t.request('PUT', `/v1/folders/${id}`)).status).toBe(201);
  return id;
}

/** One batch in sync mode, answered 200: its results by operation key. */
export async function commitBatch(t: TestServer, folderId: string, ops: unknown[]) {
  const res = await t.request('POST', `/v1/folders/${folderId}/sync`, { body: { operations: ops } });
  expect(res.status).toBe(200);
  return BatchCompletedReply.parse(res.body).results;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface TestFile {
  data: Buffer;
  hash: string;
}

export function testFile(content: string): TestFile {
  const data = Buffer.from(content);
  return { data, hash: sha256(data) };
}

export function upsert(key: string, filePath: string, file: TestFile, baseRevision: string | null, mtime = 1_700_000_000_000) {
  return { key, action: 'upsert' as const, path: filePath, size: file.data.length, mtime, blocks: file.data.length ? [file.hash] : [], baseRevision };
}

export function del(key: string, filePath: string, baseRevision: string | null) {
  return { key, action: 'delete' as const, path: filePath, baseRevision };
}

/** Polls a condition until it holds or the deadline passes (no blind sleeps). */
export async function waitUntil<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A gate a test opens by hand: tasks held in `beforeApply` stay Processing until released. */
export class TaskGate {
  readonly held = new Set<string>();
  private readonly releases = new Map<string, () => void>();
  private openAll = false;

  hook = (taskId: string, signal: AbortSignal): Promise<void> => {
    if (this.openAll) return Promise.resolve();
    this.held.add(taskId);
    return new Promise((resolve) => {
      const done = () => {
        this.held.delete(taskId);
        resolve();
      };
      this.releases.set(taskId, done);
      signal.addEventListener('abort', done, { once: true });
    });
  };

  release(taskId?: string): void {
    if (taskId === undefined) {
      this.openAll = true;
      for (const r of [...this.releases.values()]) r();
      this.releases.clear();
      return;
    }
    this.releases.get(taskId)?.();
    this.releases.delete(taskId);
  }
}
