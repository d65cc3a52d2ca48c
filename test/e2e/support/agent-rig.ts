import { test as base } from '@playwright/test';
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHost, type Host, type HostOptions } from '../../../main/control/agent-host';
import { LOG_LEVELS, type LogLevel } from '../../../main/logging';
import type { Settings } from '../../../shared/ui-contract';
import { startServer, type RunningServer } from '../../../server/main';
import { FaultProxy } from '../../fakes/fault-proxy';
import { RemoteWriter } from './remote-writer';
import { testSettings } from '../../helpers/agent-settings';

/**
 * The real headless agent for browser tests: the reference server on loopback in a temp
 * dir, the fault proxy in front of it, and `startHost` (agent + control API + the renderer at
 * /) in this process, syncing real temp folders through the proxy.
 */
const root = path.resolve(import.meta.dirname, '../../..');

/** Bundles the renderer from source into a private temp directory (dist/ belongs to the build). */
export async function bundleRenderer(): Promise<{ dir: string; cleanup: () => void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-ui-'));
  await build({
    absWorkingDir: root,
    entryPoints: ['renderer/main.tsx'],
    outfile: path.join(dir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120'],
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'styles.css']) copyFileSync(path.join(root, 'renderer', file), path.join(dir, file));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Waits this long before a held long poll is tried again: longer than any test. */
export const LONG_POLL_HOLD_SEC = 600;

export interface RigOptions {
  rendererDir: string;
  /** Local folder names (under the rig's temp dir) → remote ids. Default: one folder "docs". */
  folders?: Record<string, string>;
  settings?: Partial<Omit<Settings, 'serverUrl' | 'token' | 'folders'>>;
  tuning?: HostOptions['tuning'];
}

export interface Rig {
  dir: string;
  server: RunningServer;
  proxy: FaultProxy;
  host: Host;
  /** Local folder by its remote id. */
  folder(remoteId: string): string;
  /** Another device writing straight to the server (not through the proxy). */
  remote: RemoteWriter;
  loginUrl(): string;
  /** Stops the agent and starts it again on the same data directory (rig.host is the new one); `whileDown` runs between. */
  restartHost(whileDown?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

const envLevel = process.env.FERRY_E2E_LOG_LEVEL as LogLevel | undefined;
const logLevel: LogLevel = envLevel && LOG_LEVELS.includes(envLevel) ? envLevel : 'error';

export async function startRig(options: RigOptions): Promise<Rig> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-e2e-'));
  const undo: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
  const unwind = async () => {
    for (const step of undo.splice(0).reverse()) await step();
  };
  try {
    const server = await startServer({ dataDir: path.join(dir, 'server'), port: 0, host: '127.0.0.1', workers: 2 });
    undo.push(() => server.close());
    const proxy = await FaultProxy.start({ target: server.url });
    undo.push(() => proxy.close());
    // The agent's long poll answers "come back in 10 minutes": the puller's loop sleeps that
    // long, so with the fallback pull as slow, nothing but "Sync now" (or the agent's start)
    // pulls. That makes pulls happen when a test says so, and "Sync now" testable at all.
    proxy.add({
      name: 'hold-long-poll',
      method: 'GET',
      path: /\/changes\/wait$/,
      times: Infinity,
      action: { kind: 'status', status: 503, retryAfter: LONG_POLL_HOLD_SEC },
    });

    const folders = Object.entries(options.folders ?? { Documents: 'docs' }).map(([name, remoteId]) => {
      const localPath = path.join(dir, name);
      mkdirSync(localPath, { recursive: true });
      return { localPath, remoteId };
    });
    const settings: Settings = testSettings(proxy.url, server.token, folders, options.settings);
    const hostOptions: HostOptions = {
      dataDir: path.join(dir, 'agent'),
      settings,
      logLevel,
      deviceName: 'laptop',
      rendererDir: options.rendererDir,
      tuning: {
        local: { settleMs: 50, ...options.tuning?.local },
        push: { backoffBaseMs: 100, backoffCapMs: 300, lingerMs: 20, ...options.tuning?.push },
        pull: { pollTimeoutSec: LONG_POLL_HOLD_SEC, fallbackIntervalMs: LONG_POLL_HOLD_SEC * 1000, retryBaseMs: 100, retryMaxMs: 500, ...options.tuning?.pull },
      },
    };
    let host = await startHost(hostOptions);
    undo.push(() => host.stop());
    const remote = new RemoteWriter({ baseUrl: server.url, token: server.token });
    undo.push(() => remote.close());
    const byRemote = new Map(folders.map((f) => [f.remoteId, f.localPath]));
    let stopped: Promise<void> | undefined;
    return {
      dir,
      server,
      proxy,
      get host() {
        return host;
      },
      remote,
      async restartHost(whileDown) {
        await host.stop();
        await whileDown?.();
        // The settings the UI saved meanwhile are in DIR/settings.json; start from the rig's.
        host = await startHost(hostOptions);
      },
      folder(remoteId) {
        const local = byRemote.get(remoteId);
        if (!local) throw new Error(`no folder with remote id ${remoteId}`);
        return local;
      },
      loginUrl: () => host.control.createLoginUrl(),
      stop: () => (stopped ??= unwind()),
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}

/** Playwright's test with a rig per test (`startRig`) and the renderer bundled once per worker. */
export const rigTest = base.extend<{ startRig: (options?: Omit<RigOptions, 'rendererDir'>) => Promise<Rig> }, { rendererDir: string }>({
  rendererDir: [
    // eslint-disable-next-line no-empty-pattern -- Playwright fixtures take their dependencies by destructuring
    async ({}, use) => {
      const bundle = await bundleRenderer();
      await use(bundle.dir);
      bundle.cleanup();
    },
    { scope: 'worker' },
  ],
  startRig: async ({ rendererDir }, use) => {
    const rigs: Rig[] = [];
    await use(async (options = {}) => {
      const rig = await startRig({ ...options, rendererDir });
      rigs.push(rig);
      return rig;
    });
    for (const rig of rigs) await rig.stop();
  },
});
