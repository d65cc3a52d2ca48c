import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTROL_ROUTES, LOGIN_FRAGMENT_PREFIX, SessionRequest } from '../../shared/ui-contract-http';
import type { AgentService, CallError, CallResult } from '../../shared/ui-contract';
import { createLogger } from '../logging';
import type { Logger } from '../logging';
import { allowedHosts, bearerToken, isAllowedHost, isAllowedOrigin, tokensMatch } from './control-auth';
import { INTERNAL_ERROR, invokeContractMethod, isMethodName } from '../ui-adapter/call';
import { HEARTBEAT_MS, streamEvents } from './control-events';
import { LoginCodes } from './control-login';
import { resolveStaticFile, sendStaticFile } from './control-static';

/**
 * The headless control API: the UI contract (shared/ui-contract) over HTTP on loopback, live
 * events over SSE, and the renderer bundle for the browser. Every route checks the Host
 * header; every /api route but the login exchange needs `Authorization: Bearer <token>`.
 */
export interface ControlServerOptions {
  service: AgentService;
  host?: '127.0.0.1';
  /** 0 (the default) lets the OS pick a free port. */
  port?: number;
  token: string;
  /** dist/renderer; without it only the API is served. */
  rendererDir?: string;
  log?: Logger;
  /** Clock for login-code expiry (tests inject one). */
  now?: () => number;
  heartbeatMs?: number;
}

export interface ControlServer {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  url: string;
  port: number;
  /** A single-use code, valid 10 minutes, that a browser trades for the token. */
  createLoginCode(): string;
  /** `http://127.0.0.1:PORT/#login=<code>` with a fresh code: safe to print, never log it. */
  createLoginUrl(): string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const log = options.log ?? createLogger('control');
  const host = options.host ?? '127.0.0.1';
  const loginCodes = new LoginCodes(options.now);
  const streams = new Set<ServerResponse>();
  let hosts = new Set<string>();
  let url = '';
  const createLoginUrl = () => `${url}/${LOGIN_FRAGMENT_PREFIX}${loginCodes.create()}`;

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error('control request failed', { error: error instanceof Error ? error : String(error) });
      if (!res.headersSent) sendError(res, 500, INTERNAL_ERROR);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isAllowedHost(req, hosts)) return sendError(res, 403, { code: 'bad_host', message: 'unexpected Host header', retryable: false });
    if (!isAllowedOrigin(req, hosts)) return sendError(res, 403, { code: 'bad_origin', message: 'cross-origin request refused', retryable: false });
    // The raw path, not a normalised URL: "/../x" must reach the static checks as it was sent.
    const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';

    if (rawPath === CONTROL_ROUTES.session) {
      if (method !== 'POST') return sendMethodNotAllowed(res, 'POST');
      return openSession(req, res);
    }
    if (rawPath === '/api' || rawPath.startsWith('/api/')) {
      if (!tokensMatch(bearerToken(req), options.token)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        return sendError(res, 401, { code: 'unauthorized', message: 'a valid control token is required', retryable: false });
      }
      if (rawPath.startsWith(CONTROL_ROUTES.callPrefix)) {
        if (method !== 'POST') return sendMethodNotAllowed(res, 'POST');
        return call(req, res, rawPath.slice(CONTROL_ROUTES.callPrefix.length));
      }
      if (rawPath === CONTROL_ROUTES.loginLink) {
        if (method !== 'POST') return sendMethodNotAllowed(res, 'POST');
        return sendJson(res, 200, { ok: true, value: { url: createLoginUrl() } });
      }
      if (rawPath === CONTROL_ROUTES.events) {
        if (method !== 'GET') return sendMethodNotAllowed(res, 'GET');
        streams.add(res);
        streamEvents(req, res, options.service, {
          heartbeatMs: options.heartbeatMs ?? HEARTBEAT_MS,
          log,
          onClose: () => streams.delete(res),
        });
        return;
      }
      return sendError(res, 404, { code: 'not_found', message: 'no such API route', retryable: false });
    }
    if (method !== 'GET' && method !== 'HEAD') return sendMethodNotAllowed(res, 'GET, HEAD');
    const file = options.rendererDir ? await resolveStaticFile(options.rendererDir, rawPath) : undefined;
    if (!file) return sendError(res, 404, { code: 'not_found', message: 'not found', retryable: false });
    await sendStaticFile(res, file, method === 'HEAD');
  }

  async function call(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    if (!isMethodName(name)) return sendError(res, 404, { code: 'unknown_method', message: `unknown method ${JSON.stringify(name)}`, retryable: false });
    const body = await readJsonBody(req);
    if (!body.ok) return sendError(res, body.status, body.error);
    const outcome = await invokeContractMethod(options.service.handlers, name, body.value, log);
    sendJson(res, outcome.status, outcome.result);
  }

  async function openSession(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonBody(req);
    if (!body.ok) return sendError(res, body.status, body.error);
    const request = SessionRequest.safeParse(body.value);
    const redeemed = loginCodes.redeem(request.success ? request.data.code : '');
    if (!redeemed.ok && redeemed.limited) {
      // One warning when limiting starts, not one per attempt.
      if (redeemed.firstRefusal) log.warn('control sign-in rate-limited: too many failed attempts');
      const retryAfterSeconds = Math.max(1, Math.ceil(redeemed.retryAfterMs / 1000));
      res.setHeader('Retry-After', String(retryAfterSeconds));
      return sendError(res, 429, { code: 'rate_limited', message: 'too many failed sign-in attempts; try again shortly', retryable: true });
    }
    if (!redeemed.ok) {
      log.warn('control sign-in refused: unknown, used or expired login code');
      return sendError(res, 401, { code: 'invalid_login_code', message: 'this sign-in link is invalid, used or expired', retryable: false });
    }
    log.info('control session opened');
    sendJson(res, 200, { ok: true, value: { token: options.token } });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(port);
  url = `http://${host}:${port}`;
  log.info('control API listening', { url });

  return {
    url,
    port,
    createLoginCode: () => loginCodes.create(),
    createLoginUrl,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const stream of streams) stream.end();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

type BodyResult = { ok: true; value: unknown } | { ok: false; status: number; error: CallError };

async function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  const type = req.headers['content-type'];
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { ok: false, status: 413, error: { code: 'payload_too_large', message: 'request body too large', retryable: false } };
    chunks.push(chunk);
  }
  if (size === 0) return { ok: true, value: undefined };
  // Insisting on JSON keeps HTML forms (which cannot send it) out.
  if (!type || !/^application\/json\b/i.test(type)) {
    return { ok: false, status: 415, error: { code: 'unsupported_media_type', message: 'send application/json', retryable: false } };
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { ok: false, status: 400, error: { code: 'invalid_json', message: 'the request body is not valid JSON', retryable: false } };
  }
}

function sendJson(res: ServerResponse, status: number, body: CallResult<unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, error: CallError): void {
  sendJson(res, status, { ok: false, error });
}

function sendMethodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  sendError(res, 405, { code: 'method_not_allowed', message: `use ${allow}`, retryable: false });
}
