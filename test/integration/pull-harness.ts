import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach } from 'vitest';
import { createPuller, type Puller, type PullerOptions, type PullRemote } from '../../main/engine/pull';
import { createPusher, type Pusher } from '../../main/engine/push';
import { Scanner } from '../../main/engine/scanner';
import { writeMarker } from '../../main/engine/folder-marker';
import { createIgnoreMatcher } from '../../main/engine/ignore';
import { SyncApiClient } from '../../main/remote';
import type { OperationInput } from '../../protocol';
import { makeTestFolder, type TestFolder } from '../helpers/local-folder';
import { startTestServer, type TestServer } from '../helpers/server-harness';
import type { ServerOptions } from '../../server/main';

export const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Device A: writes to the server with the real client, tracking each path's revision. */
export class Writer {
  readonly revisions = new Map<string, string>();
  private n = 0;
  constructor(
    readonly client: SyncApiClient,
    readonly remoteId: string,
  ) {}

  /** Commits content per path (null deletes) in one batch; returns the new revisions. */
  async commit(files: Record<string, string | Buffer | null>, mtime = 1_700_000_000_000): Promise<void> {
    const ops: OperationInput[] = [];
    for (const [p, content] of Object.entries(files)) {
      const key = `k${++this.n}`;
      const baseRevision = this.revisions.get(p) ?? null;
      if (content === null) {
        ops.push({ key, action: 'delete', path: p, baseRevision });
        continue;
      }
      const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
      const blocks = data.length ? [sha(data)] : [];
      if (data.length) await this.client.putBlock(blocks[0]!, data);
      ops.push({ key, action: 'upsert', path: p, size: data.length, mtime, blocks, baseRevision });
    }
    for (let i = 0; i < ops.length; i += 5000) {
      const chunk = ops.slice(i, i + 5000);
      const reply = await this.client.submitBatch(this.remoteId, chunk);
      if (!('results' in reply)) throw new Error('expected a sync reply');
      for (const op of chunk) {
        const r = reply.results[op.key];
        if (!r?.ok) throw new Error(`commit of ${op.path} failed: ${JSON.stringify(r)}`);
        if (op.action === 'delete') this.revisions.delete(op.path);
        else this.revisions.set(op.path, r.revision);
      }
    }
  }
}

export interface Agent {
  folder: TestFolder;
  client: SyncApiClient;
  puller: Puller;
  scanner: Scanner;
  /** The paths the puller is placing now, which the scanner reads (the agent's folder coordinator holds it). */
  applying: Set<string>;
  read(rel: string): string | null;
  /** Every file under the root except .ferry, as path → content. */
  tree(): Record<string, string>;
  /** A real pusher on this device's queue and client, started; stopped by close(). */
  startPusher(): Promise<Pusher>;
  close(): Promise<void>;
}

export function makeClient(server: TestServer, deviceId: string): SyncApiClient {
  return new SyncApiClient({ baseUrl: server.server.url, token: server.server.token, deviceId });
}

/** `remote` lets a test stand between the puller and the real client (to act while a block downloads). */
/**
 * The real client as the pull's remote, with `beforeBlocks` run as each block fetch starts: what
 * a user does on disk after the pull decided, while the download is on its way.
 */
export function fetchingWith(beforeBlocks: (folder: TestFolder) => void): (client: SyncApiClient, folder: TestFolder) => PullRemote {
  return (client, folder) => ({
    changesPage: (...args) => client.changesPage(...args),
    waitForChanges: (...args) => client.waitForChanges(...args),
    getBlock: (...args) => (beforeBlocks(folder), client.getBlock(...args)),
    fetchBlocks: (...args) => (beforeBlocks(folder), client.fetchBlocks(...args)),
  });
}

export function makeAgent(server: TestServer, name: string, options: Partial<PullerOptions> = {}, folderId = 'fb', remote?: (client: SyncApiClient, folder: TestFolder) => PullRemote): Agent {
  const folder = makeTestFolder(folderId);
  // The local side marks a folder when it is added; the scanner and the puller check it.
  folder.store.folders.setMarkerId(folderId, writeMarker(folder.root));
  const client = makeClient(server, `device-${name}`);
  const applying = new Set<string>();
  const puller = createPuller({
    store: folder.store,
    applying: () => applying,
    remote: remote ? remote(client, folder) : client,
    device: { id: `device-${name}`, name },
    options: { retryBaseMs: 20, retryMaxMs: 200, ...options },
  });
  const scanner = new Scanner({ store: folder.store, folderId, root: folder.root, ignore: () => createIgnoreMatcher(), applying });
  const pushers: Pusher[] = [];
  const tree = (): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (dir: string, rel: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (r === '.ferry') continue;
        if (e.isDirectory()) walk(path.join(dir, e.name), r);
        else if (e.isFile()) out[r] = readFileSync(path.join(dir, e.name), 'utf8');
      }
    };
    walk(folder.root, '');
    return out;
  };
  return {
    folder,
    client,
    puller,
    scanner,
    applying,
    read: (rel) => (existsSync(folder.abs(rel)) ? readFileSync(folder.abs(rel), 'utf8') : null),
    tree,
    async startPusher() {
      const pusher = createPusher({
        store: folder.store,
        remote: client,
        options: { lingerMs: 5, idlePollMs: 50 },
      });
      pushers.push(pusher);
      await pusher.start();
      return pusher;
    },
    async close() {
      for (const p of pushers.splice(0)) await p.stop();
      await puller.stop();
      client.close();
      folder.cleanup();
    },
  };
}

export async function startPullServer(options: Partial<ServerOptions> = {}): Promise<{ server: TestServer; writer: Writer; remoteId: string }> {
  const server = await startTestServer(options);
  const remoteId = 'remote-fb';
  const client = makeClient(server, 'device-a');
  await client.createFolder(remoteId);
  return { server, writer: new Writer(client, remoteId), remoteId };
}

/** A real server with device A's writer, and pull agents on it: all closed after each test. */
export function usePullRig(): {
  start(options?: Partial<ServerOptions>): Promise<Writer>;
  device(name: string, options?: Partial<PullerOptions>, remote?: (client: SyncApiClient, folder: TestFolder) => PullRemote): Agent;
} {
  let running: { server: TestServer; writer: Writer } | undefined;
  const agents: Agent[] = [];
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.close();
    running?.writer.client.close();
    await running?.server.close();
    running = undefined;
  });
  return {
    async start(options = {}) {
      running = await startPullServer(options);
      return running.writer;
    },
    device(name, options = {}, remote) {
      if (!running) throw new Error('start() the rig first');
      const a = makeAgent(running.server, name, options, 'fb', remote);
      agents.push(a);
      return a;
    },
  };
}
