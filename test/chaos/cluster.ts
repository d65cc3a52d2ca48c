import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { connectToAgent, type ControlClient } from '../../main/control/control-client';
import { pairWithServer } from '../../main/control/device-pairing';
import { runAccountsCommand } from '../../server/accounts-cli';
import { SyncApiClient } from '../../main/remote';
import { FaultProxy } from '../fakes/fault-proxy';
import { spawnFerry, type RunningFerry } from '../helpers/ferry-cli';
import { waitFor } from '../helpers/wait';

/**
 * The processes of one chaos run: `ferry server` on a fixed port (so a restart keeps it), the
 * fault proxy in front of it, and one `ferry agent` per device, each in its own child
 * process with its own data directory and real folder, talking to the server through the proxy.
 */
export const FOLDER_ID = 'chaos';

/**
 * How long a process may take to start. On a loaded machine (two cores shared with other
 * work) an agent took more than 30 s to print its control line, and seeds failed before their
 * first operation: a slow start is not a failure of the product.
 */
const START_TIMEOUT_MS = 120_000;

export interface Device {
  index: number;
  name: string;
  dataDir: string;
  root: string;
  proc: RunningFerry | null;
  client: ControlClient | null;
  kills: number;
}

/** dev-a, dev-b, dev-c. */
export const deviceName = (index: number): string => `dev-${String.fromCharCode(97 + index)}`;

/** The two users whose paired devices sync the folder: even devices are ann's, odd ones bob's. */
export const CHAOS_USERS = ['ann', 'bob'] as const;
const userOf = (index: number): string => CHAOS_USERS[index % 2] as string;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class Cluster {
  readonly token = randomBytes(24).toString('hex');
  readonly devices: Device[] = [];
  /** A client straight to the server (not through the proxy), for the checks. */
  api!: SyncApiClient;
  proxy!: FaultProxy;
  serverRestarts = 0;
  private server: RunningFerry | null = null;
  private port = 0;
  private readonly serverDir: string;
  private readonly configFile: string;
  /** Output of processes that ended, for the failure report. */
  readonly ended: string[] = [];

  constructor(
    private readonly dir: string,
    deviceCount: number,
    private readonly proxySeed: number,
    /** Where each device's folder and data directory go (the full-disk fault gives each its own disk). */
    deviceHome: (index: number) => string = () => dir,
  ) {
    this.serverDir = path.join(dir, 'server');
    this.configFile = path.join(dir, 'agent-config.json');
    for (let i = 0; i < deviceCount; i++) {
      const name = deviceName(i);
      const home = deviceHome(i);
      this.devices.push({ index: i, name, dataDir: path.join(home, `${name}-data`), root: path.join(home, name), proc: null, client: null, kills: 0 });
    }
  }

  get serverUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    // A randomized run deletes many of few files: the mass-delete guard would only ask the user.
    writeFileSync(this.configFile, JSON.stringify({ massDeletePercent: 100 }));
    this.port = await freePort();
    await this.startServer();
    this.api = new SyncApiClient({ baseUrl: this.serverUrl, token: this.token, deviceId: 'chaos-checker' });
    this.proxy = await FaultProxy.start({ target: this.serverUrl, seed: this.proxySeed });
    for (const d of this.devices) mkdirSync(d.root, { recursive: true });
    await this.pairDevices();
    await Promise.all(this.devices.map((d) => this.startAgent(d.index)));
  }

  /**
   * Every device is a paired device, of two users sharing the folder (docs/sync-api.md,
   * "Accounts and devices"): dev-a, dev-c… are ann's, dev-b, dev-d… bob's. Ann's first device
   * creates the folder (so it is hers) and she shares it with bob. Each agent keeps its own
   * token in its data directory, as `ferry agent --pair` leaves it; the checks keep the server token.
   */
  private async pairDevices(): Promise<void> {
    const quiet = { out: () => undefined, err: () => undefined };
    const accounts = async (...words: string[]): Promise<string> => {
      let out = '';
      const code = await runAccountsCommand([...words, '--data', this.serverDir], { out: (s) => void (out += s), err: (s) => void (out += s) });
      if (code !== 0) throw new Error(`ferry server ${words.join(' ')} failed: ${out}`);
      return out;
    };
    for (const user of CHAOS_USERS) await accounts('user', 'add', user);
    for (const d of this.devices) {
      const code = /: ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})\n/.exec(await accounts('pair', '--user', userOf(d.index)))?.[1];
      if (!code) throw new Error(`no pairing code for ${d.name}`);
      const paired = await pairWithServer({ dataDir: d.dataDir, serverUrl: this.serverUrl, code, deviceName: d.name });
      if (d.index === 0) {
        const owner = new SyncApiClient({ baseUrl: this.serverUrl, token: paired.token, deviceId: 'chaos-setup' });
        try {
          await owner.createFolder(FOLDER_ID);
        } finally {
          owner.close();
        }
      }
    }
    await runAccountsCommand(['share', FOLDER_ID, '--with', CHAOS_USERS[1], '--data', this.serverDir], quiet);
  }

  private async startServer(): Promise<void> {
    // The port was just freed by the previous server (or picked): binding may race briefly.
    await waitFor(
      async () => {
        // `npm run chaos -- --gc`: short retention and frequent garbage collection with no grace period,
        // so uploads race GC all the time (docs/sync-api.md, "Retention and garbage collection").
        const gc = process.env.FERRY_CHAOS_GC === '1' ? ['--keep-versions', '5s', '--gc-interval', '1s', '--gc-grace', '0'] : [];
        const proc = spawnFerry(['server', '--data', this.serverDir, '--port', String(this.port), '--token', this.token, '--sync-budget-ms', '2000', ...gc]);
        try {
          await proc.line(/listening on http/, START_TIMEOUT_MS);
          this.server = proc;
          return true;
        } catch (error) {
          await proc.stop('SIGKILL');
          if (!/EADDRINUSE/.test(proc.stderr() + proc.stdout())) throw error;
          return false;
        }
      },
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 100, message: `ferry server to listen on port ${this.port}` },
    );
  }

  async restartServer(hard: boolean): Promise<void> {
    const old = this.server;
    this.server = null;
    if (old) {
      const { signal, code } = await old.stop(hard ? 'SIGKILL' : 'SIGTERM');
      if (!hard && code !== 0) this.ended.push(`server stopped with code ${code} / ${signal}: ${old.stderr()}`);
    }
    this.serverRestarts++;
    await this.startServer();
  }

  async startAgent(index: number): Promise<void> {
    const d = this.devices[index]!;
    if (d.proc) return;
    const proc = spawnFerry([
      // No --token: the device's own, saved by its pairing.
      'agent', '--data', d.dataDir, '--server', this.proxy.url, '--folder', `${d.root}=${FOLDER_ID}`,
      '--device-name', d.name, '--config', this.configFile, '--log-level', process.env.FERRY_CHAOS_LOG_LEVEL ?? 'info',
    ]);
    d.proc = proc;
    // An agent that ends on its own (not killed by the plan) crashed: its last words go in the report.
    void proc.exited.then(({ code, signal }) => {
      if (d.proc === proc) this.ended.push(`${d.name} exited by itself (code ${code}, signal ${signal}): ${proc.stderr().slice(-2000)} ${proc.stdout().slice(-2000)}`);
    });
    await proc.line(/^control: http/, START_TIMEOUT_MS);
    d.client = await connectToAgent(d.dataDir);
  }

  async killAgent(index: number): Promise<void> {
    const d = this.devices[index]!;
    const proc = d.proc;
    if (!proc) return;
    d.proc = null;
    d.client = null;
    d.kills++;
    await proc.stop('SIGKILL');
  }

  /** Everything back up: the proxy online, without rules; the server and every agent running. */
  async heal(): Promise<void> {
    this.proxy.clearRules();
    await this.proxy.goOnline();
    if (!this.server) await this.startServer();
    for (const d of this.devices) if (!d.proc) await this.startAgent(d.index);
  }

  /** Where to look when a seed fails. */
  logs(): string[] {
    return [path.join(this.serverDir, 'logs', 'server.log'), ...this.devices.map((d) => path.join(d.dataDir, 'logs', 'agent.log'))];
  }

  async close(): Promise<void> {
    const procs = [...this.devices.map((d) => d.proc), this.server].filter((p): p is RunningFerry => p !== null);
    await Promise.all(
      procs.map(async (p) => {
        const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
        await p.stop('SIGTERM');
        clearTimeout(timer);
      }),
    );
    for (const d of this.devices) {
      d.proc = null;
      d.client = null;
    }
    this.server = null;
    this.api?.close();
    await this.proxy?.close();
  }
}
