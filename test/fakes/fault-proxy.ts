import { mulberry32 } from '../helpers/seeded-random';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A real HTTP proxy on loopback in front of a real server, with a programmable fault plan.
 * Rules match requests by method, path and query and fire on chosen occurrences (or with a
 * seeded probability, for randomized runs that replay). The proxy can also "go offline":
 * it closes its listener and every socket, so clients get ECONNREFUSED until it reopens.
 */

export type FaultAction =
  /** Answer this status instead of the server (forward: let the server see and apply it first). */
  | { kind: 'status'; status: number; code?: string; message?: string; retryAfter?: number | string; forward?: boolean; headers?: Record<string, string>; body?: unknown }
  /** Read this much of the request body, then cut the connection (the server never sees it). */
  | { kind: 'drop-request'; afterBytes?: number }
  /** Forward, then cut the connection after this much of the response body. */
  | { kind: 'drop-response'; afterBytes?: number }
  /** Hold the request this long, then forward it. */
  | { kind: 'delay'; ms: number }
  /** Forward at once (the server applies it), and hold its answer this long. */
  | { kind: 'delay-response'; ms: number }
  /** Forward, reading the request body from the client at this rate: a slow uplink. */
  | { kind: 'slow-request'; bytesPerSecond: number };

export interface FaultRule {
  name?: string;
  method?: string;
  /** Exact path, or a pattern tested against the path. */
  path?: string | RegExp;
  /** Tested against the query string (without '?'), e.g. /mode=sync/. */
  query?: RegExp;
  /** Let this many matching requests through before firing. */
  after?: number;
  /** Fire this many times (default 1; Infinity for always). */
  times?: number;
  /** Fire on a matching request with this probability (seeded), within `times`. */
  probability?: number;
  action: FaultAction;
}

export interface ProxyLogEntry {
  seq: number;
  /** Date.now() when the request arrived. */
  at: number;
  method: string;
  path: string;
  query: string;
  trackingId: string | undefined;
  run: string | undefined;
  /** The fault applied, or undefined when forwarded untouched. */
  fault: string | undefined;
  /** Status the client got (0: connection cut). */
  status: number;
  /** The server it was forwarded to (host:port), when it was. */
  target?: string;
}

interface ActiveRule extends FaultRule {
  id: number;
  seen: number;
  fired: number;
}

/** Fault plans replay from a seed. */
export const seededRandom = mulberry32;

export interface FaultProxyOptions {
  /**
   * The real server, e.g. http://127.0.0.1:1234; several: each request goes to the next one in
   * turn (round-robin, as a load balancer in front of server processes that share one database).
   */
  target: string | string[];
  seed?: number;
  port?: number;
}

export class FaultProxy {
  readonly log: ProxyLogEntry[] = [];
  private readonly rules: ActiveRule[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  /** Where requests go, in turn; setTargets changes it (a process taken out of the rotation). */
  private targets: URL[];
  private turn = 0;
  private readonly random: () => number;
  private server: http.Server;
  private nextRule = 1;
  private seq = 0;
  private listening = false;
  private portNumber = 0;

  private constructor(options: FaultProxyOptions) {
    this.targets = (Array.isArray(options.target) ? options.target : [options.target]).map((t) => new URL(t));
    this.random = seededRandom(options.seed ?? 1);
    this.portNumber = options.port ?? 0;
    this.server = this.createServer();
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await proxy.listen();
    return proxy;
  }

  get port(): number {
    return this.portNumber;
  }

  get url(): string {
    return `http://127.0.0.1:${this.portNumber}`;
  }

  get online(): boolean {
    return this.listening;
  }

  /** Adds a rule; returns a function that removes it. */
  add(rule: FaultRule): () => void {
    const active: ActiveRule = { ...rule, id: this.nextRule++, seen: 0, fired: 0 };
    this.rules.push(active);
    return () => {
      const i = this.rules.indexOf(active);
      if (i >= 0) this.rules.splice(i, 1);
    };
  }

  /** The processes requests go to from now on (requests in flight finish where they are). */
  setTargets(targets: string[]): void {
    if (targets.length === 0) throw new Error('the proxy needs at least one target');
    this.targets = targets.map((t) => new URL(t));
  }

  clearRules(): void {
    this.rules.length = 0;
  }

  /** How many times rules with this name fired. */
  fired(name: string): number {
    return this.log.filter((e) => e.fault === name).length;
  }

  requests(filter: { method?: string; path?: string | RegExp; query?: RegExp } = {}): ProxyLogEntry[] {
    return this.log.filter((e) => matches(filter, e.method, e.path, e.query));
  }

  /** Refuses connections from now on: closes the listener and cuts every open socket. */
  async goOffline(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Accepts connections again, on the same port. */
  async goOnline(): Promise<void> {
    if (this.listening) return;
    this.server = this.createServer();
    await this.listen();
  }

  async close(): Promise<void> {
    await this.goOffline();
    this.agent.destroy();
  }

  private createServer(): http.Server {
    const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.portNumber, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.portNumber = (this.server.address() as AddressInfo).port;
        this.listening = true;
        resolve();
      });
    });
  }

  private pick(method: string, path: string, query: string): ActiveRule | undefined {
    for (const rule of this.rules) {
      if (!matches(rule, method, path, query)) continue;
      rule.seen++;
      if (rule.seen <= (rule.after ?? 0)) continue;
      if (rule.fired >= (rule.times ?? 1)) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      rule.fired++;
      return rule;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://proxy.invalid');
    const method = req.method ?? 'GET';
    const query = url.search.replace(/^\?/, '');
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const rule = this.pick(method, url.pathname, query);
    const entry: ProxyLogEntry = {
      seq: ++this.seq,
      at: Date.now(),
      method,
      path: url.pathname,
      query,
      trackingId: header('x-tracking-id'),
      run: header('x-ferry-run'),
      fault: rule ? (rule.name ?? rule.action.kind) : undefined,
      status: 0,
    };
    this.log.push(entry);
    const action = rule?.action;
    try {
      if (!action) {
        entry.status = await this.forward(req, res, undefined, entry);
      } else if (action.kind === 'delay') {
        await new Promise((r) => setTimeout(r, action.ms));
        entry.status = await this.forward(req, res, undefined, entry);
      } else if (action.kind === 'delay-response') {
        entry.status = await this.forward(req, res, undefined, entry, action.ms);
      } else if (action.kind === 'slow-request') {
        entry.status = await this.forward(req, res, undefined, entry, 0, action.bytesPerSecond);
      } else if (action.kind === 'drop-request') {
        await readUpTo(req, action.afterBytes ?? 0);
        req.socket.destroy();
      } else if (action.kind === 'drop-response') {
        entry.status = 0;
        await this.forward(req, res, action.afterBytes ?? 0, entry);
      } else {
        if (action.forward) await this.forward(req, null, undefined, entry);
        else await drain(req);
        const body = action.body !== undefined ? JSON.stringify(action.body) : JSON.stringify({ code: action.code ?? codeFor(action.status), message: action.message ?? `injected ${action.status}` });
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          ...action.headers,
        };
        const tid = header('x-tracking-id');
        if (tid) headers['x-tracking-id'] = tid;
        if (action.retryAfter !== undefined) headers['retry-after'] = String(action.retryAfter);
        res.writeHead(action.status, headers);
        res.end(body);
        entry.status = action.status;
      }
    } catch {
      entry.status = 0;
      req.socket.destroy();
    }
  }

  /**
   * Sends the request on to the server. With res null the answer is read and discarded; with
   * cutAfter set the client gets the headers and that many body bytes, then a cut connection.
   */
  private forward(req: IncomingMessage, res: ServerResponse | null, cutAfter?: number, entry?: ProxyLogEntry, holdMs = 0, paceBytesPerSecond = 0): Promise<number> {
    const target = this.targets[this.turn++ % this.targets.length]!;
    if (entry) entry.target = target.host;
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: target.host };
      const upstream = http.request(
        { protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: this.agent },
        (answer) => {
          const go = () => answered(answer);
          if (holdMs > 0) setTimeout(go, holdMs);
          else go();
        },
      );
      const answered = (answer: IncomingMessage) => {
        const status = answer.statusCode ?? 502;
        if (!res) {
          answer.resume();
          answer.on('end', () => resolve(status));
          answer.on('error', reject);
          return;
        }
        res.writeHead(status, answer.headers);
        if (cutAfter === undefined) {
          answer.pipe(res);
          answer.on('end', () => resolve(status));
          answer.on('error', reject);
          return;
        }
        let sent = 0;
        let cut = false;
        const doCut = () => {
          if (cut) return;
          cut = true;
          res.socket?.destroy();
          answer.destroy();
          resolve(0);
        };
        if (cutAfter <= 0) res.flushHeaders();
        answer.on('data', (chunk: Buffer) => {
          if (cut) return;
          const room = cutAfter - sent;
          if (room > 0) res.write(chunk.subarray(0, room));
          sent += Math.min(room, chunk.length);
          if (sent >= cutAfter) setImmediate(doCut);
        });
        answer.on('end', () => setImmediate(doCut));
        if (cutAfter <= 0) setImmediate(doCut);
      };
      upstream.on('error', reject);
      if (paceBytesPerSecond <= 0) return void req.pipe(upstream);
      // Each chunk read from the client waits its share of time before the next is read.
      req.on('data', (chunk: Buffer) => {
        req.pause();
        upstream.write(chunk);
        setTimeout(() => req.resume(), (chunk.length / paceBytesPerSecond) * 1000);
      });
      req.on('end', () => upstream.end());
    });
  }
}

function matches(rule: { method?: string; path?: string | RegExp; query?: RegExp }, method: string, path: string, query: string): boolean {
  if (rule.method && rule.method.toUpperCase() !== method) return false;
  if (rule.path !== undefined && (typeof rule.path === 'string' ? rule.path !== path : !rule.path.test(path))) return false;
  if (rule.query && !rule.query.test(query)) return false;
  return true;
}

function codeFor(status: number): string {
  if (status === 429) return 'rate_limited';
  if (status === 423) return 'path_locked';
  if (status === 503) return 'unavailable';
  if (status === 504) return 'timeout';
  if (status >= 500) return 'internal';
  if (status === 413) return 'payload_too_large';
  if (status === 422) return 'hash_mismatch';
  return 'invalid_request';
}

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded) return resolve();
    req.on('end', resolve);
    req.on('error', () => resolve());
    req.resume();
  });
}

/** Resolves once `bytes` of the body arrived (or it ended first). */
function readUpTo(req: IncomingMessage, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    if (bytes <= 0 || req.readableEnded) return resolve();
    req.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got >= bytes) resolve();
    });
    req.on('end', resolve);
    req.on('error', () => resolve());
  });
}
