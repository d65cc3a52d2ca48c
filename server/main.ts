import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FerryError } from '../protocol';
import { createLogger, type Logger } from '../main/logging';
import { ChangesFeed } from './changes';
import { FolderStore } from './folders';
import { checkBearer, correlationHeaders, errorReply, findRoute, parseRequestTarget, readJsonBody, sendJson, type JsonReply, type RequestContext } from './http';
import { IdempotencyStore, fingerprint } from './idempotency';
import { buildRoutes } from './routes';
import { SECRET_FILE_NAME, TOKEN_FILE_NAME, loadOrCreateSecret } from './secrets';
import { BlockStore } from './storage/blocks';
import { openServerDb } from './storage/db';
import { TaskStore } from './task-store';
import { TaskRunner, type TaskHooks } from './tasks';
import { FeedTokens } from './tokens';

export interface ServerOptions {
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
  /** Largest JSON body accepted (413 beyond). Blocks are limited to BLOCK_SIZE. */
  maxBodyBytes?: number;
  maxQueuedTasks?: number;
  /** Milliseconds since the epoch; tests move time forward with it. */
  clock?: () => number;
  hooks?: TaskHooks;
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
  close(): Promise<void>;
}

export const SERVER_DEFAULTS = {
  port: 0,
  host: '127.0.0.1',
  syncBudgetMs: 10_000,
  tokenTtlMs: 30 * 24 * 3600 * 1000,
  workers: 4,
  maxBodyBytes: 32 * 1024 * 1024,
  maxQueuedTasks: 10_000,
} as const;

/** First answers are replayed for a day; finished tasks are kept for the token lifetime. */
const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const o = { ...SERVER_DEFAULTS, ...stripUndefined(options) };
  const clock = o.clock ?? Date.now;
  const log = createLogger('server');
  const dataDir = path.resolve(options.dataDir);
  await fs.mkdir(dataDir, { recursive: true });

  let token = o.token;
  let tokenFile: string | null = null;
  let tokenCreated = false;
  if (!token) {
    tokenFile = path.join(dataDir, TOKEN_FILE_NAME);
    const loaded = await loadOrCreateSecret(tokenFile);
    token = loaded.value;
    tokenCreated = loaded.created;
  }
  const secret = (await loadOrCreateSecret(path.join(dataDir, SECRET_FILE_NAME))).value;

  const db = openServerDb(dataDir);
  const blocks = new BlockStore(dataDir, db);
  await blocks.init();
  const folders = new FolderStore(db, clock);
  const tasks = new TaskStore(db, clock);
  const idempotency = new IdempotencyStore(db, clock);
  const feed = new ChangesFeed({ db, folders, tokens: new FeedTokens(secret), clock, tokenTtlMs: o.tokenTtlMs });
  const runner = new TaskRunner({
    db,
    store: tasks,
    blocks,
    workers: Math.max(1, o.workers),
    clock,
    log,
    ...(o.hooks ? { hooks: o.hooks } : {}),
    onFolderChanged: (folderId) => feed.notify(folderId),
  });

  let lastMaintenance = Number.NEGATIVE_INFINITY;
  const maintenanceEveryMs = Math.min(o.tokenTtlMs / 10, 10 * 60 * 1000);
  const maintain = (): void => {
    const now = clock();
    if (now - lastMaintenance < maintenanceEveryMs) return;
    lastMaintenance = now;
    const pruned = feed.prune();
    const oldTasks = tasks.prune(now - o.tokenTtlMs);
    const answers = idempotency.prune(now - IDEMPOTENCY_TTL_MS);
    if (pruned.tombstones + pruned.versions + oldTasks + answers > 0) log.info('pruned', { ...pruned, tasks: oldTasks, answers });
  };
  maintain();

  const routes = buildRoutes({ blocks, folders, feed, tasks, runner, syncBudgetMs: o.syncBudgetMs, maxQueuedTasks: o.maxQueuedTasks, maintain });
  const serverToken = token;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const reply = { trackingId: '-', status: 0 };
    let rlog = log.child({ device: '-', run: '-', trackingId: '-' });
    let pathname = '-';
    try {
      const target = parseRequestTarget(req.url);
      pathname = target.pathname;
      if (!checkBearer(req.headers.authorization, serverToken)) {
        throw new FerryError('unauthorized', 'Missing or invalid token', { status: 401 });
      }
      const headers = correlationHeaders(req);
      reply.trackingId = headers.trackingId;
      rlog = log.child({ device: headers.device, run: headers.run, trackingId: headers.trackingId });
      const found = findRoute(routes, req.method ?? 'GET', target.pathname);
      if (found === null) throw new FerryError('not_found', 'No such endpoint', { status: 404 });
      if (found === 'method_not_allowed') throw new FerryError('method_not_allowed', 'Method not allowed on this endpoint', { status: 405 });
      const r = found.route as (typeof routes)[number];
      const ctx: RequestContext = {
        req,
        res,
        method: r.method,
        pathname: target.pathname,
        query: target.query,
        params: found.params,
        ...headers,
        log: rlog,
        signal: abort.signal,
        rawBody: '',
        body: undefined,
      };
      if (r.body === 'json') {
        const body = await readJsonBody(req, o.maxBodyBytes);
        ctx.rawBody = body.raw;
        ctx.body = body.value;
      }
      const fp = r.idempotent && ctx.trackingIdGiven ? fingerprint(ctx.method, ctx.pathname, ctx.rawBody) : undefined;
      let answer: JsonReply | null;
      const replay = fp ? idempotency.lookup(ctx.trackingId, fp) : undefined;
      if (replay) {
        rlog.info('replaying first answer');
        answer = replay;
      } else {
        try {
          answer = await r.handler(ctx);
        } catch (error) {
          answer = errorReply(error);
          if (answer.status >= 500) rlog.error('request failed', { error });
        }
        if (fp && answer && answer.status < 500 && answer.status !== 429) idempotency.remember(ctx.trackingId, fp, answer);
      }
      if (answer) {
        reply.status = answer.status;
        sendJson({ res, trackingId: ctx.trackingId }, answer);
      } else reply.status = res.statusCode;
    } catch (error) {
      const answer = errorReply(error);
      if (answer.status >= 500) rlog.error('request failed', { error });
      reply.status = answer.status;
      if (reply.trackingId === '-') reply.trackingId = randomUUID();
      sendJson({ res, trackingId: reply.trackingId }, answer);
    } finally {
      // Whatever the handler did not read is drained, so the answer reaches the client.
      if (!req.readableEnded) req.resume();
      rlog.info('request', { method: req.method, path: pathname, status: reply.status, ms: Math.round(performance.now() - started) });
    }
  }

  // handle() answers its own failures; this is the last line of defence, so that no request
  // can ever end the process with an unhandled rejection.
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error('request handler failed', { error });
      if (!res.headersSent) sendJson({ res, trackingId: randomUUID() }, errorReply(error));
      else res.destroy();
    });
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => answerClientError(error, socket, log));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const resumed = runner.resume();
  const { port } = server.address() as AddressInfo;
  const hostForUrl = o.host.includes(':') ? `[${o.host}]` : o.host;
  const url = `http://${hostForUrl}:${port}`;
  const timer = setInterval(maintain, 60_000);
  timer.unref();
  log.info('listening', { url, resumedTasks: resumed });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    token,
    tokenFile,
    tokenCreated,
    dataDir,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await runner.close();
        server.closeAllConnections();
        await closed;
        db.close();
        log.info('stopped');
      })();
      return closing;
    },
  };
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
  const payload = JSON.stringify({ code: 'invalid_request', message: status === 408 ? 'Request timed out' : 'Malformed HTTP request' });
  log.info('request refused by the HTTP parser', { status, reason: error.code ?? 'unknown' });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
    () => socket.destroy(),
  );
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
