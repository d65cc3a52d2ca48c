import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ChangeItem } from '../../protocol';
import { createPusher, type ConflictHandoff, type Pusher, type PusherEvents, type PusherOptions } from '../../main/engine/push';
import { hashFile } from '../../main/engine/hashing';
import { SyncApiClient } from '../../main/remote';
import { openStore, type Store } from '../../main/store';
import type { QueueItem, QueueState } from '../../main/store/queue';
import { FaultProxy } from '../fakes/fault-proxy';
import { startTestServer, type TestServer } from '../helpers/server-harness';
import type { ServerOptions } from '../../server/main';
import { waitFor } from '../helpers/wait';

export const FOLDER = 'f1';
export const REMOTE = 'r1';

/** Fast settings: tests never wait out real 1 s backoffs (Retry-After aside). */
export const FAST: Partial<PusherOptions> = {
  backoffBaseMs: 20,
  backoffCapMs: 200,
  pollMinMs: 10,
  pollMaxMs: 50,
  lingerMs: 50,
  offlineProbeBaseMs: 20,
  offlineProbeCapMs: 100,
  idlePollMs: 100,
  conflictRecheckMs: 60_000,
};

export interface PushRig {
  server: TestServer;
  proxy: FaultProxy;
  store: Store;
  root: string;
  pusher: Pusher;
  client: SyncApiClient;
  conflicts: ConflictHandoff[];
  events: { [K in keyof PusherEvents]: PusherEvents[K][] };
  write(rel: string, content: string | Buffer): Promise<void>;
  /** Hashes the file as the scanner would and queues it. */
  enqueue(rel: string, baseRevision?: string | null): Promise<void>;
  item(rel: string): QueueItem;
  waitState(rel: string, state: QueueState, timeoutMs?: number): Promise<QueueItem>;
  remote(): Promise<Map<string, ChangeItem>>;
  /** A new pusher over a reopened store (a restart of the agent). */
  restart(options?: Partial<PusherOptions>): Promise<void>;
  close(): Promise<void>;
}

export async function pushRig(
  o: { options?: Partial<PusherOptions>; server?: Partial<ServerOptions>; start?: boolean; random?: () => number } = {},
): Promise<PushRig> {
  const server = await startTestServer({ syncBudgetMs: 5000, ...o.server });
  const proxy = await FaultProxy.start({ target: server.server.url, seed: 7 });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferry-push-'));
  const root = path.join(tmp, 'root');
  mkdirSync(root);
  const dbFile = path.join(tmp, 'state.db');
  let store = openStore(dbFile);
  store.folders.add({ id: FOLDER, localRoot: root, remoteId: REMOTE });
  const created = await server.request('PUT', `/v1/folders/${REMOTE}`, { body: {} });
  if (created.status >= 300) throw new Error(`folder create failed: ${created.status}`);
  const client = new SyncApiClient({ baseUrl: proxy.url, token: server.server.token, deviceId: 'dev-test', requestTimeoutMs: 10_000 });
  const conflicts: ConflictHandoff[] = [];
  const events = { item: [], itemProgress: [], run: [], connectivity: [], conflict: [] } as PushRig['events'];

  const make = (options: Partial<PusherOptions> = {}): Pusher => {
    const p = createPusher({
      store,
      remote: client,
      onConflict: (c) => conflicts.push(c),
      ...(o.random ? { random: o.random } : {}),
      options: { ...FAST, ...o.options, ...options },
    });
    for (const name of Object.keys(events) as Array<keyof PusherEvents>) {
      p.on(name, (e) => (events[name] as unknown[]).push(e));
    }
    return p;
  };

  const rig: PushRig = {
    server,
    proxy,
    get store() {
      return store;
    },
    root,
    pusher: make(),
    client,
    conflicts,
    events,
    async write(rel, content) {
      const abs = path.join(root, rel);
      mkdirSync(path.dirname(abs), { recursive: true });
      await writeFile(abs, content);
    },
    async enqueue(rel, baseRevision = null) {
      const abs = path.join(root, rel);
      const h = await hashFile(abs);
      const st = await stat(abs);
      store.transaction(() => {
        store.index.putLocal({ folderId: FOLDER, path: rel, kind: 'file', size: h.size, mtimeMs: st.mtimeMs, inode: st.ino, contentHash: h.contentHash, blocks: h.blocks });
        store.paths.enqueue({ folderId: FOLDER, path: rel, kind: 'file', op: 'upsert', size: h.size, mtimeMs: st.mtimeMs, contentHash: h.contentHash, blocks: h.blocks, baseRevision });
      });
    },
    item(rel) {
      const it = store.queue.getByPath(FOLDER, rel);
      if (!it) throw new Error(`no queue item for ${rel}`);
      return it;
    },
    waitState(rel, state, timeoutMs = 10_000) {
      return waitFor(() => {
        const it = store.queue.getByPath(FOLDER, rel);
        return it && it.state === state ? it : undefined;
      }, { timeoutMs, message: `${rel} to be ${state} (now ${store.queue.getByPath(FOLDER, rel)?.state})` });
    },
    async remote() {
      const page = await server.request<{ items: ChangeItem[] }>('GET', `/v1/folders/${REMOTE}/changes?syncModifications=true&limit=10000`);
      return new Map(page.body.items.filter((i) => !i.deleted).map((i) => [i.path, i]));
    },
    async restart(options) {
      await rig.pusher.stop();
      store.close();
      store = openStore(dbFile);
      rig.pusher = make(options);
    },
    async close() {
      await rig.pusher.stop();
      client.close();
      store.close();
      await proxy.close();
      await server.close();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
  if (o.start !== false) await rig.pusher.start();
  return rig;
}

export const syncPosts = (rig: PushRig) => rig.proxy.requests({ method: 'POST', path: /\/sync$/ });
export const blockPuts = (rig: PushRig, hash?: string) => rig.proxy.requests({ method: 'PUT', path: hash ? `/v1/blocks/${hash}` : /^\/v1\/blocks\// });
/** Batch uploads of small blocks (`POST /v1/blocks/batch`). */
export const batchPosts = (rig: PushRig) => rig.proxy.requests({ method: 'POST', path: '/v1/blocks/batch' });
/** Makes the server look like one without the batch extension: small files then go up by PUT. */
export const withoutBlockBatches = (rig: PushRig) =>
  rig.proxy.add({ name: 'no-batch', method: 'POST', path: '/v1/blocks/batch', times: Infinity, action: { kind: 'status', status: 404, code: 'not_found', message: 'No such endpoint' } });
