import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { API_ERRORS, DeviceId, FerryError, HEADERS, RunLabel, TrackingId, isApiErrorCode, isFerryError, storageFullCode } from '../protocol';
import type { Logger } from '../main/logging';
import type { Principal } from './auth';
import { MAX_JSON_DEPTH, jsonNestingExceeds } from './limits';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  pathname: string;
  query: URLSearchParams;
  params: Record<string, string>;
  /** The client's X-Tracking-Id, or one made up here when it sent none. */
  trackingId: string;
  trackingIdGiven: boolean;
  /** What idempotency records are kept under: the tracking id within its principal's own space (server/idempotency.ts). */
  idempotencyKey: string;
  device: string;
  run: string;
  /** Who the bearer token belongs to (server/auth.ts). */
  principal: Principal;
  log: Logger;
  /** Aborted when the client goes away before the answer is sent. */
  signal: AbortSignal;
  /** Reads the whole body (413 beyond maxBytes), counted against the server's body budget. */
  readBody(maxBytes: number): Promise<Buffer>;
  /** Parsed JSON body for routes declared with `body: 'json'`. */
  body: unknown;
  /** What the request asks for, on idempotent routes called with an X-Tracking-Id. */
  fingerprint: RequestFingerprint | undefined;
}

/** A request's fingerprint, and the older spellings a record written before may carry. */
export interface RequestFingerprint {
  value: string;
  matches(stored: string): boolean;
}

export interface JsonReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A handler answers with JSON, or with `null` once it has written the response itself. */
export type Handler = (ctx: RequestContext) => Promise<JsonReply | null>;

export interface RouteOptions {
  /** Largest JSON body (defaults to the server's maxBodyBytes, meant for batches). */
  maxBodyBytes?: number;
  /**
   * Idempotent per X-Tracking-Id: 'replay' keeps the first answer and sends it again;
   * 'task' leaves replays to the durable task the request creates (batches).
   */
  idempotent?: 'replay' | 'task';
  /** Request headers that change what is asked, as they enter the fingerprint. */
  fingerprintHeaders?: (ctx: RequestContext) => string[];
  /** How a record written before fingerprints took the parsed body was fingerprinted. */
  legacyFingerprint?: (ctx: RequestContext, raw: Buffer) => string;
}

export interface Route extends RouteOptions {
  method: string;
  /** The template, e.g. `/v1/folders/{folderId}`: names the endpoint in fingerprints. */
  template: string;
  pattern: RegExp;
  /** Names for the pattern's capture groups. */
  names: readonly string[];
  body: 'none' | 'json' | 'stream';
  handler: Handler;
}

export function route(method: string, template: string, body: Route['body'], handler: Handler, options: RouteOptions = {}): Route {
  const names: string[] = [];
  const source = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { ...options, method, template, pattern: new RegExp(`^${source}$`), names, body, handler };
}

export function findRoute(routes: readonly Route[], method: string, pathname: string): { route: Route; params: Record<string, string> } | 'method_not_allowed' | null {
  let pathMatched = false;
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (!m) continue;
    pathMatched = true;
    if (r.method !== method) continue;
    const params: Record<string, string> = {};
    r.names.forEach((name, i) => {
      try {
        params[name] = decodeURIComponent(m[i + 1] ?? '');
      } catch {
        throw new FerryError('invalid_request', 'Malformed percent-encoding in the URL', { status: 400 });
      }
    });
    return { route: r, params };
  }
  return pathMatched ? 'method_not_allowed' : null;
}

/**
 * Splits the request target into path and query. Only the origin form (`/path?query`) is a
 * Sync API request: anything else (`//host`, `*`, an absolute URL, a fragment) is 400. No URL
 * parser runs on it, because `//…` would be read as an authority and may throw.
 */
export function parseRequestTarget(target: string | undefined): { pathname: string; query: URLSearchParams } {
  const raw = target ?? '';
  const q = raw.indexOf('?');
  const pathname = q === -1 ? raw : raw.slice(0, q);
  if (!pathname.startsWith('/') || pathname.startsWith('//') || pathname.includes('#')) {
    throw new FerryError('invalid_request', 'The request target must be a path starting with a single /', { status: 400 });
  }
  return { pathname, query: new URLSearchParams(q === -1 ? '' : raw.slice(q + 1)) };
}

/** Constant-time bearer token check (hashing first evens out the lengths). */
export function checkBearer(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) return false;
  const given = createHash('sha256').update(match[1] ?? '').digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected);
}

/** The three correlation headers, validated; a malformed one is 400. */
export function correlationHeaders(req: IncomingMessage): { trackingId: string; trackingIdGiven: boolean; device: string; run: string } {
  const read = (name: string): string | undefined => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const check = (value: string | undefined, schema: typeof TrackingId, header: string): string | undefined => {
    if (value === undefined) return undefined;
    if (!schema.safeParse(value).success) throw new FerryError('invalid_request', `Invalid ${header} header`, { status: 400 });
    return value;
  };
  const trackingId = check(read(HEADERS.trackingId), TrackingId, 'X-Tracking-Id');
  const device = check(read(HEADERS.device), DeviceId, 'X-Ferry-Device');
  const run = check(read(HEADERS.run), RunLabel, 'X-Ferry-Run');
  return { trackingId: trackingId ?? randomUUID(), trackingIdGiven: trackingId !== undefined, device: device ?? 'unknown', run: run ?? '-' };
}

/**
 * Reads a whole body up to `maxBytes` (413 beyond, as soon as it is declared or seen).
 * `onChunk` sees each chunk's size before it is kept, and may throw to stop reading.
 */
export async function readRawBody(req: IncomingMessage, maxBytes: number, onChunk?: (bytes: number) => void): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  // Not destroying the request on early exit lets the 413 reach the client.
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    onChunk?.((chunk as Buffer).length);
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
}

/** Parses a JSON body, refusing deep nesting before JSON.parse runs; an empty body reads as undefined. */
export function parseJsonBody(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  if (text.trim() === '') return undefined;
  if (jsonNestingExceeds(raw, MAX_JSON_DEPTH)) {
    throw new FerryError('invalid_request', `Request body nests deeper than ${MAX_JSON_DEPTH} levels`, { status: 400 });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new FerryError('invalid_request', 'Request body is not valid JSON', { status: 400 });
  }
}

/** True when the request carries a body (declared, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

function tooLarge(maxBytes: number): FerryError {
  return new FerryError('payload_too_large', `Request body exceeds ${maxBytes} bytes`, { status: 413 });
}

export function sendJson(ctx: Pick<RequestContext, 'res' | 'trackingId'>, reply: JsonReply): void {
  const { res } = ctx;
  // A streamed answer that failed midway cannot become JSON any more: cut it off instead.
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  const payload = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    [HEADERS.trackingId]: ctx.trackingId,
    ...reply.headers,
  });
  res.end(payload);
}

/**
 * A write the server's disk refused (ENOSPC, EDQUOT, SQLITE_FULL) as `507 insufficient_storage`,
 * retryable after `retryAfterSeconds`; any other error as it is. Whatever the request wrote
 * was removed or rolled back before the error got here.
 */
export function storageFull(error: unknown, retryAfterSeconds: number): unknown {
  if (isFerryError(error) || storageFullCode(error) === null) return error;
  return new FerryError('insufficient_storage', "The server's disk is full: nothing of this request was kept; try again later", {
    status: API_ERRORS.insufficient_storage.status,
    retryable: true,
    retryAfterSeconds,
    cause: error,
  });
}

/** What an error looks like on the wire; anything that is not a FerryError stays private. */
export function errorReply(error: unknown): JsonReply {
  if (isFerryError(error)) {
    const known = isApiErrorCode(error.code) ? API_ERRORS[error.code] : undefined;
    const status = error.status ?? known?.status ?? 500;
    const headers: Record<string, string> = {};
    if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.ceil(error.retryAfterSeconds));
    if (status === 401) headers['www-authenticate'] = 'Bearer';
    return { status, body: { ...error.details, code: error.code, message: error.message }, headers };
  }
  return { status: 500, body: { code: 'internal', message: 'Internal server error' } };
}
