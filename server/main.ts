import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FerryError } from '../protocol';
import { createLogger, type Logger } from '../main/logging';
import { ensurePrivateDir, restrictFilesIn } from '../main/private-files';
import { Access } from './access';
import { SqlAccounts } from './accounts';
import { pairingRoute } from './account-routes';
import { AUTH_FAILURE_LIMIT, AUTH_FAILURE_WINDOW_MS, FailureLimiter, authenticate, type Principal } from './auth';
import { ChangesFeed } from './changes';
import { DeviceReports } from './device-reports';
import { FolderStore } from './folders';
import { GcFence, collectGarbage, type GcReport } from './gc';
import { LostBlocks } from './lost-blocks';
import { thinVersions } from './retention';
import { HistoryReader } from './history';
import { correlationHeaders, errorReply, storageFull, findRoute, hasBody, parseJsonBody, parseRequestTarget, readRawBody, sendJson, type JsonReply, type RequestContext } from './http';
import { IdempotencyStore, idempotencyKey, requestFingerprint } from './idempotency';
import { BodyBudget, SlowBodyGuard, capConnections, refuseRaw } from './limits';
import { buildRoutes } from './routes';
import { ServerMetrics, type MetricsSnapshot } from './metrics';
import { opsRoutes } from './ops-routes';
import { SECRET_FILE_NAME, TOKEN_FILE_NAME, loadOrCreateSecret } from './secrets';
import { openStorage, type StorageOptions } from './storage/open';
import { acquireInstanceLock } from '../main/instance-lock';
import type { PostgresDb } from './storage/postgres';
import { TaskStore } from './task-store';
import { TaskRunner, type TaskHooks } from './tasks';
import { FeedTokens } from './tokens';

export interface ServerOptions extends StorageOptions {
  dataDir: string;
  /** 0 picks a free port. Default 0. */
  port?: number;
  host?: string;
  /** Bearer token; without one the server reads or creates `<dataDir>/token` (mode 0600). */
  token?: string;
  /** How long a `mode=sync` batch may take before the answer is 504 (the work goes on as a task). */
  syncBudgetMs?: number;
  /** Lifetime of sync tokens, cursors and tombstones. */
  tokenTtlMs?: number;
  workers?: number;
  /** Largest batch body accepted (413 beyond); smaller JSON requests have smaller limits, blocks BLOCK_SIZE. */
  maxBodyBytes?: number;
  /** Request body bytes held in memory across all requests at once (503 beyond). */
  maxBodyBufferBytes?: number;
  /** A request body that sends nothing for this long is cut off. */
  bodyIdleMs?: number;
  /** After bodyGraceMs, a request body must average at least this rate or is cut off. */
  minBodyBytesPerSecond?: number;
  bodyGraceMs?: number;
  /** Time a client gets to send its request headers. */
  headersTimeoutMs?: number;
  /** Time a client gets to send a whole request (headers and body). */
  requestTimeoutMs?: number;
  /** Open connections in all, and from one client address (a connection over either gets 503 and is closed). */
  maxConnections?: number;
  maxConnectionsPerClient?: number;
  maxQueuedTasks?: number;
  /** Retry-After of a `507 insufficient_storage` (the disk is full), and how often a task stalled by it runs again. */
  storageRetryAfterSec?: number;
  /** Milliseconds since the epoch; tests move time forward with it. */
  clock?: () => number;
  hooks?: TaskHooks;
  /** Retention of past revisions and deleted files, thinned (server/retention.ts). Default: the token lifetime. */
  keepVersionsMs?: number;
  /** How often garbage collection runs on its own (0: never; `ferry server gc` runs it now). */
  gcIntervalMs?: number;
  /** Blocks written or reported present more recently than this are not collected. */
  gcGraceMs?: number;
  /** With several processes on PostgreSQL: how long a task's claim holds without a heartbeat (default 10 s, tasks.ts DEFAULT_TASK_LEASE_MS). */
  taskLeaseMs?: number;
  /** Test seam: runs inside garbage collection after the live set is known, before anything is removed. */
  gcAfterMark?: () => Promise<void>;
  /** Serve HTTPS with this certificate (chain) and key, PEM (`--tls-cert`, `--tls-key`); plain HTTP without. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  /** Where the generated token is kept (null when the token was given). */
  tokenFile: string | null;
  /** True when this start generated the token file. */
  tokenCreated: boolean;
  dataDir: string;
  /** Prunes history by the retention policy, then collects unreferenced blocks (what `ferry server gc` asks for). */
  collectGarbage(): Promise<MaintenanceReport>;
  /** What is under way now: requests being answered (waiting long polls apart), long polls waiting, tasks running. */
  underWay(): UnderWay;
  /**
   * Stops accepting connections; requests in flight and running tasks get `graceMs` to finish
   * (default 0: stop now). Tasks still running then stop at their next step and, on a shared
   * PostgreSQL, are handed back for another process to take over at once. Waiting long polls are
   * answered at once.
   */
  close(graceMs?: number): Promise<void>;
  /** close(), saying what did not finish (`ferry server` prints it). */
  shutDown(graceMs?: number): Promise<ClosedServer>;
}

export interface UnderWay {
  requests: number;
  longPolls: number;
  tasks: number;
}

export interface ClosedServer {
  /** Requests still in flight when the grace period ran out: their connections were closed. */
  cutOff: number;
  /** Tasks handed back to the other processes on a shared PostgreSQL. */
  handedBack: number;
}

export interface MaintenanceReport extends GcReport {
  /** Past revisions and tombstones dropped by the retention policy. */
  prunedVersions: number;
  prunedTombstones: number;
}

export const SERVER_DEFAULTS = {
  port: 0,
  host: '127.0.0.1',
  syncBudgetMs: 10_000,
  tokenTtlMs: 30 * 24 * 3600 * 1000,
  workers: 4,
  // A 10,000-operation batch with 1 KiB paths is 12.3 MB (with 50-byte paths, 2.5 MB).
  maxBodyBytes: 16 * 1024 * 1024,
  maxBodyBufferBytes: 64 * 1024 * 1024,
  bodyIdleMs: 10_000,
  minBodyBytesPerSecond: 8 * 1024,
  bodyGraceMs: 10_000,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  maxConnections: 512,
  maxConnectionsPerClient: 64,
  maxQueuedTasks: 10_000,
  gcIntervalMs: 6 * 3600 * 1000,
  gcGraceMs: 3600 * 1000,
  storageRetryAfterSec: 30,
} as const;

/** First answers are replayed for a day; finished tasks are kept for the token lifetime. */
const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const o = { ...SERVER_DEFAULTS, ...stripUndefined(options) };
  const clock = o.clock ?? Date.now;
  const log = createLogger('server');
  const dataDir = path.resolve(options.dataDir);
  ensurePrivateDir(dataDir);

  let token = o.token;
  let tokenFile: string | null = null;
  let tokenCreated = false;
  if (!token) {
    tokenFile = path.join(dataDir, TOKEN_FILE_NAME);
    const loaded = await loadOrCreateSecret(tokenFile);
    token = loaded.value;
    tokenCreated = loaded.created;
  }
  const localSecret = (await loadOrCreateSecret(path.join(dataDir, SECRET_FILE_NAME))).value;

  // SQLite is this process's alone (docs/sync-api.md, "Operations"): a second server on the
  // same directory is refused. Several processes share PostgreSQL, each with its own --data.
  const lock = options.dbUrl ? null : acquireInstanceLock(dataDir, 'server');
  const { db, blocks } = await openStorage(dataDir, options).catch((error: unknown) => {
    lock?.release();
    throw error;
  });
  // Processes sharing one PostgreSQL sign feed tokens with one key, kept in the database.
  // Loaded only then: a one-machine server never loads the PostgreSQL modules.
  const pgShared = db.dialect === 'postgres' ? { db: db as PostgresDb, ...(await import('./storage/postgres')), ...(await import('./storage/pg-wakeups')) } : null;
  const secret = pgShared ? await pgShared.sharedSecret(pgShared.db, 'feed-tokens', localSecret) : localSecret;
  // The database (with its WAL files), token and secret: owner only, also when created before.
  restrictFilesIn(dataDir);
  const folders = new FolderStore(db, clock);
  const tasks = new TaskStore(db, clock);
  const idempotency = new IdempotencyStore(db, clock);
  const feedTokens = new FeedTokens(secret);
  const feed = new ChangesFeed({ db, folders, tokens: feedTokens, clock, tokenTtlMs: o.tokenTtlMs });
  const reports = new DeviceReports(db, feedTokens, clock);
  const lost = new LostBlocks(db, blocks, clock);
  blocks.onLost = (hashes) => lost.notice(hashes);
  const history = new HistoryReader(db, feedTokens, clock);
  const fence = new GcFence();
  // Several processes on one PostgreSQL: a collection in one fences the commits of all.
  const sharedFence = pgShared ? pgShared.postgresGcFence(pgShared.db) : null;
  const metrics = new ServerMetrics();
  let lastGc: MetricsSnapshot['lastGc'] = null;
  let draining = false;
  const keepVersionsMs = o.keepVersionsMs ?? o.tokenTtlMs;
  const runner = new TaskRunner({
    db,
    fence,
    sharedFence,
    store: tasks,
    blocks,
    workers: Math.max(1, o.workers),
    clock,
    log,
    hooks: {
      ...o.hooks,
      afterTask: (id, outcome) => {
        metrics.taskEnded(outcome);
        o.hooks?.afterTask?.(id, outcome);
      },
    },
    storageRetryMs: o.storageRetryAfterSec * 1000,
    ...(o.taskLeaseMs ? { taskLeaseMs: o.taskLeaseMs } : {}),
    onFolderChanged: (folderId) => {
      feed.notify(folderId);
      wakeups?.publish(folderId);
    },
  });
  // Several processes on one PostgreSQL: a commit on any of them wakes the long polls of all.
  // A process shutting down hands its tasks back: take them over now, not at the next heartbeat.
  const takeOver = (): void => void runner.tend().catch((error: unknown) => log.warn('taking over handed-back tasks failed', { error }));
  const wakeups = pgShared ? await pgShared.listenForCommits(pgShared.db, (folderId) => feed.notify(folderId), () => feed.notifyAll(), log, takeOver) : null;

  let lastMaintenance = Number.NEGATIVE_INFINITY;
  const maintenanceEveryMs = Math.min(o.tokenTtlMs / 10, 10 * 60 * 1000);
  const maintain = async (): Promise<void> => {
    const now = clock();
    if (now - lastMaintenance < maintenanceEveryMs) return;
    lastMaintenance = now;
    const pruned = await pruneHistory();
    const oldTasks = await tasks.prune(now - o.tokenTtlMs);
    const answers = await idempotency.prune(now - IDEMPOTENCY_TTL_MS);
    const devices = await reports.prune();
    if (pruned.tombstones + pruned.versions + oldTasks + answers + devices > 0) log.info('pruned', { ...pruned, tasks: oldTasks, answers, devices });
  };
  // Retention (docs/sync-api.md, "Retention and garbage collection"): expired tombstones and
  // revisions go with the feed's prune, then the staggered thinning of what is left.
  const pruneHistory = async (): Promise<{ tombstones: number; versions: number }> => {
    const expired = await feed.prune(keepVersionsMs);
    const thinned = await thinVersions(db, clock(), keepVersionsMs);
    return { tombstones: expired.tombstones, versions: expired.versions + thinned.versions };
  };
  await maintain();
  let collecting: Promise<MaintenanceReport> | null = null;
  const runGc = (): Promise<MaintenanceReport> =>
    (collecting ??= (async () => {
      try {
        const pruned = await pruneHistory();
        const report = await collectGarbage({ db, blocks, lost, fence, shared: sharedFence, graceMs: o.gcGraceMs, ...(o.gcAfterMark ? { afterMark: o.gcAfterMark } : {}) });
        const full = { ...report, prunedVersions: pruned.versions, prunedTombstones: pruned.tombstones };
        lastGc = { at: clock(), liveBlocks: report.liveBlocks, bytesStored: report.bytesStored };
        log.info('garbage collected', { ...full });
        return full;
      } finally {
        collecting = null;
      }
    })());

  const bodyBudget = new BodyBudget(o.maxBodyBufferBytes);
  const accounts = new SqlAccounts(db, clock);
  // The one request made without a bearer token: a device trading its pairing code.
  const openRoutes = [
    pairingRoute(accounts, new FailureLimiter(clock)),
    ...opsRoutes({ db, blocks, metrics, draining: () => draining, longPollsWaiting: () => feed.waiting, bodyBytesBuffered: () => bodyBudget.inUse, lastGc: () => lastGc }),
  ];
  const access = new Access(accounts);
  const routes = [...openRoutes, ...buildRoutes({ metrics, blocks, folders, feed, tasks, reports, lost, history, runGc, runner, idempotency, access, syncBudgetMs: o.syncBudgetMs, maxQueuedTasks: o.maxQueuedTasks, maintain })];
  const serverToken = token;
  const authFailures = new FailureLimiter(clock, AUTH_FAILURE_LIMIT, AUTH_FAILURE_WINDOW_MS);

  const slowBodies = new SlowBodyGuard({ idleMs: o.bodyIdleMs, minBytesPerSecond: o.minBodyBytesPerSecond, graceMs: o.bodyGraceMs, sweepMs: Math.min(1000, o.bodyIdleMs / 4), log });

  let inFlight = 0;
  let idle: (() => void) | null = null;
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    inFlight++;
    // Shutting down: this answer is the connection's last.
    if (draining) res.setHeader('connection', 'close');
    // Metric labels: the route's template and method, never the path a client sent.
    const label = { route: 'unmatched', method: 'other' };
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const reply: { trackingId: string; status: number | 'aborted' } = { trackingId: '-', status: 0 };
    let rlog = log.child({ device: '-', run: '-', trackingId: '-' });
    let pathname = '-';
    let heldBytes = 0;
    const readBody = (maxBytes: number): Promise<Buffer> =>
      readRawBody(req, maxBytes, (bytes) => {
        bodyBudget.take(bytes);
        heldBytes += bytes;
      });
    const send = (trackingId: string, answer: JsonReply): void => {
      reply.status = answer.status;
      // A refused request's body is not read on: the connection closes after the answer,
      // so a client cannot keep the socket by trickling a body nobody wants.
      if (hasBody(req) && !req.complete) res.shouldKeepAlive = false;
      sendJson({ res, trackingId }, answer);
    };
    if (hasBody(req)) slowBodies.watch(req);
    try {
      const target = parseRequestTarget(req.url);
      pathname = target.pathname;
      const open = openRoutes.some((r) => r.pattern.test(target.pathname));
      const principal: Principal = open ? { kind: 'anonymous' } : await authenticate(req, serverToken, accounts, authFailures);
      const headers = correlationHeaders(req);
      reply.trackingId = headers.trackingId;
      rlog = log.child({ device: headers.device, run: headers.run, trackingId: headers.trackingId, ...(principal.kind === 'device' ? { user: principal.user } : {}) });
      const found = findRoute(routes, req.method ?? 'GET', target.pathname);
      if (found === null) throw new FerryError('not_found', 'No such endpoint', { status: 404 });
      if (found === 'method_not_allowed') throw new FerryError('method_not_allowed', 'Method not allowed on this endpoint', { status: 405 });
      const r = found.route;
      label.route = r.template;
      label.method = r.method;
      const ctx: RequestContext = {
        req,
        res,
        method: r.method,
        pathname: target.pathname,
        query: target.query,
        params: found.params,
        ...headers,
        idempotencyKey: idempotencyKey(principal, headers.trackingId),
        principal,
        log: rlog,
        signal: abort.signal,
        readBody,
        body: undefined,
        fingerprint: undefined,
      };
      let raw: Buffer = Buffer.alloc(0);
      if (r.body === 'json') {
        raw = await readBody(Math.min(o.maxBodyBytes, r.maxBodyBytes ?? o.maxBodyBytes));
        ctx.body = parseJsonBody(raw);
      }
      if (r.idempotent && ctx.trackingIdGiven) {
        ctx.fingerprint = requestFingerprint({
          method: r.method,
          template: r.template,
          params: found.params,
          headers: r.fingerprintHeaders?.(ctx) ?? [],
          body: ctx.body,
          ...(r.legacyFingerprint ? { legacy: r.legacyFingerprint(ctx, raw) } : {}),
        });
      }
      const fp = ctx.fingerprint;
      let answer: JsonReply | null;
      const replay = fp ? await idempotency.lookup(ctx.idempotencyKey, fp) : undefined;
      if (replay) {
        rlog.info('replaying first answer');
        answer = replay;
      } else {
        try {
          answer = await r.handler(ctx);
        } catch (error) {
          if (clientGone(req, abort.signal)) throw error;
          answer = errorReply(storageFull(error, o.storageRetryAfterSec));
          if (answer.status >= 500) rlog.error('request failed', { error });
        }
        if (fp && r.idempotent === 'replay' && answer && answer.status < 500 && answer.status !== 429) await idempotency.remember(ctx.idempotencyKey, fp, answer);
      }
      if (answer) send(ctx.trackingId, answer);
      else reply.status = res.statusCode;
    } catch (error) {
      if (clientGone(req, abort.signal)) {
        // The client went away mid-request (or was cut off as too slow): nothing to answer.
        reply.status = 'aborted';
        if (!res.headersSent) res.destroy();
      } else {
        const answer = errorReply(storageFull(error, o.storageRetryAfterSec));
        if (answer.status >= 500) rlog.error('request failed', { error });
        if (reply.trackingId === '-') reply.trackingId = randomUUID();
        send(reply.trackingId, answer);
      }
    } finally {
      bodyBudget.give(heldBytes);
      const ms = performance.now() - started;
      metrics.request(label.route, label.method, reply.status, ms / 1000);
      rlog.info('request', { method: req.method, path: pathname, status: reply.status, ms: Math.round(ms) });
      if (--inFlight === 0) idle?.();
    }
  }

  // handle() answers its own failures; this is the last line of defence, so that no request
  // can ever end the process with an unhandled rejection.
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      log.error('request handler failed', { error });
      if (!res.headersSent) sendJson({ res, trackingId: randomUUID() }, errorReply(error));
      else res.destroy();
    });
  };
  const httpOptions = { keepAliveTimeout: 65_000, headersTimeout: o.headersTimeoutMs, requestTimeout: o.requestTimeoutMs, connectionsCheckingInterval: 1000 };
  // The same limits either way; a TLS handshake that fails is the client's error, answered by closing.
  const server = options.tls ? createHttpsServer({ ...httpOptions, cert: options.tls.cert, key: options.tls.key }, onRequest) : createServer(httpOptions, onRequest);
  capConnections(server, { maxConnections: o.maxConnections, maxConnectionsPerClient: o.maxConnectionsPerClient, log });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => answerClientError(error, socket, log));
  // Node hands CONNECT to this event (and closes the socket unanswered when nobody listens).
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => refuseRaw(socket, 405, 'method_not_allowed', 'CONNECT is not part of the Sync API'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const resumed = await runner.resume();
  const { port } = server.address() as AddressInfo;
  const hostForUrl = o.host.includes(':') ? `[${o.host}]` : o.host;
  const url = `${options.tls ? 'https' : 'http'}://${hostForUrl}:${port}`;
  const timer = setInterval(() => void maintain().catch((error: unknown) => log.error('maintenance failed', { error })), 60_000);
  timer.unref();
  const gcTimer =
    o.gcIntervalMs > 0
      ? setInterval(() => void runGc().catch((error: unknown) => log.error('garbage collection failed', { error })), o.gcIntervalMs)
      : null;
  gcTimer?.unref();
  log.info('listening', { url, resumedTasks: resumed });

  let closing: Promise<ClosedServer> | undefined;
  return {
    url,
    port,
    token,
    tokenFile,
    tokenCreated,
    dataDir,
    collectGarbage: runGc,
    underWay: () => {
      const longPolls = feed.waiting;
      return { requests: Math.max(0, inFlight - longPolls), longPolls, tasks: runner.runningCount };
    },
    close: async (graceMs = 0) => void (await shutDown(graceMs)),
    shutDown,
  };

  function shutDown(graceMs = 0): Promise<ClosedServer> {
    closing ??= (async () => {
      draining = true;
      feed.release();
      clearInterval(timer);
      if (gcTimer) clearInterval(gcTimer);
      slowBodies.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      log.info('stopping', { inFlight, graceMs });
      const requestsDone = new Promise<void>((resolve) => {
        if (inFlight === 0 || graceMs <= 0) return resolve();
        idle = resolve;
        setTimeout(resolve, graceMs).unref();
      });
      // A database gone already must not stop the shutdown: its leases then run out on their own.
      const handingBack = runner.close(graceMs).catch((error: unknown) => {
        log.warn('tasks not handed back: others take them over when their leases run out', { error });
        return 0;
      });
      const [handedBack] = await Promise.all([handingBack, requestsDone]);
      // Still in flight when the grace period ran out (at once with none): closed below, unanswered.
      const cutOff = inFlight;
      if (handedBack > 0) {
        log.info('tasks handed back', { tasks: handedBack });
        await wakeups?.publishHandedBack();
      }
      await collecting?.catch(() => undefined);
      server.closeAllConnections();
      await closed;
      blocks.close?.();
      await wakeups?.close();
      await db.close();
      lock?.release();
      log.info('stopped', { cutOff, handedBack });
      return { cutOff, handedBack };
    })();
    return closing;
  }
}

/**
 * What Node's HTTP parser refuses before any handler runs (a bad request line, headers too
 * large, a request that took too long) is answered in the API's JSON error shape, then closed.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, log: Logger): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  log.info('request refused by the HTTP parser', { status, reason: error.code ?? 'unknown' });
  refuseRaw(socket, status, 'invalid_request', status === 408 ? 'Request timed out' : 'Malformed HTTP request');
}

/** True when the client is gone: the request was cut off before its end, or the answer can no longer be sent. */
function clientGone(req: IncomingMessage, signal: AbortSignal): boolean {
  return signal.aborted || (req.destroyed && !req.complete);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
