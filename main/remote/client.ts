import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { Readable } from 'node:stream';
import got, { type Got, type Progress, type Response } from 'got';
import type { z } from 'zod';
import type {
  DeviceState} from '../../protocol';
import {
  BLOCK_FRAMES_TYPE,
  BLOCK_SIZE,
  MAX_BLOCK_BATCH_BYTES,
  MAX_BLOCK_BATCH_COUNT,
  decodeBlockFrames,
  encodeBlockFrames,
  BlockFrameWriter,
  BatchAcceptedReply,
  BatchCompletedReply,
  ChangesPage,
  DevicesReply,
  DeletedPage,
  FerryError,
  HistoryPage,
  type HistoryItem,
  Revision,
  formatRunHeader,
  Folder,
  HEADERS,
  ListFoldersReply,
  MAX_MISSING_HASHES,
  MissingBlocksReply,
  PairReply,
  type PairRequest,
  PutBlockReply,
  PutBlocksReply,
  Task,
  WaitReply,
  isSha256Hex,
  routes,
  type BatchMode,
  type CreateFolderRequest,
  type DeviceReport,
  DeviceReportReply,
  type OperationInput,
} from '../../protocol';
import { httpError, malformedReply, transportError, withSchemeHint } from './errors';
import { assertSecureUrl } from './transport';

export interface SyncApiClientOptions {
  /** e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  baseUrl: string;
  token: string;
  /** Stable id of this device (X-Ferry-Device). */
  deviceId: string;
  /** X-Ferry-Run is `<runName>;<runStamp ISO>`; a call's `run` option overrides it (a push run's). */
  runName?: string;
  runStamp?: Date;
  /** Per-request timeout for JSON calls (default 60 s); blocks get blockTimeoutMs (default 5 min). */
  requestTimeoutMs?: number;
  blockTimeoutMs?: number;
  /** Keep-alive sockets per origin (default 16). */
  maxSockets?: number;
  /** PEM of a private CA to trust besides the system's (main/remote/transport.ts). */
  ca?: string;
  /** Plain http to a host that is not loopback is refused (`insecure_http`) unless this is set. */
  allowInsecureHttp?: boolean;
  /** Told the outcome of every request: the engine's link watch (main/engine/agent/connection.ts). */
  observer?: RequestObserver;
}

/**
 * Each request's outcome: `answered` when the server replied below 400; `failed` with the error
 * of a reply of 400 or more (its status and code), or of no reply at all (a network error).
 * `sentAt` (performance.now()) is when the request went: a long poll answered 30 s after it went
 * says nothing of a refusal that came meanwhile.
 */
export interface RequestObserver {
  answered(sentAt: number): void;
  failed(error: FerryError, sentAt: number): void;
}

/** What every call accepts: a retried request passes its first trackingId again. */
export interface CallOptions {
  trackingId?: string;
  /** X-Ferry-Run for this request, overriding the client's current run. */
  run?: string;
  signal?: AbortSignal;
}

export interface PutBlockOptions extends CallOptions {
  /** Byte length of a stream body (sent as Content-Length). */
  size?: number;
  onProgress?: (sentBytes: number, totalBytes: number | undefined) => void;
}

export interface SubmitBatchOptions extends CallOptions {
  mode?: BatchMode;
  singleOperation?: boolean;
}

export interface ChangesPageQuery {
  syncToken?: string;
  /** The cursor of a `next` link. */
  cursor?: string;
  /** A `next` link's href as the server sent it (same origin as baseUrl only). */
  next?: string;
  limit?: number;
}

export type SubmitBatchReply = BatchCompletedReply | BatchAcceptedReply;

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

interface RequestSpec extends CallOptions {
  method: 'GET' | 'POST' | 'PUT';
  url: URL;
  json?: unknown;
  body?: Buffer | Readable;
  headers?: Record<string, string>;
  timeoutMs?: number;
  maxResponseBytes?: number;
  onUploadProgress?: (progress: Progress) => void;
}

/** Bytes a JSON answer may take before the client gives up on it (a hostile server cannot exhaust memory). */
const MAX_JSON_REPLY_BYTES = 256 * 1024 * 1024;

/**
 * The Sync API v1 client the engine uses. Every reply is checked against the protocol
 * schemas; every failure is a FerryError with code, status, retryable and retryAfterSeconds.
 * got's own retries are off: the engine decides when to try again.
 */
export class SyncApiClient {
  private readonly base: URL;
  private readonly http: Got;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly runHeader: string;

  constructor(private readonly options: SyncApiClientOptions) {
    assertSecureUrl(options.baseUrl, options.allowInsecureHttp);
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : options.baseUrl + '/');
    const maxSockets = options.maxSockets ?? 16;
    // A private CA is trusted besides the system's, never instead of them.
    const ca = options.ca === undefined ? {} : { ca: [...tls.rootCertificates, options.ca] };
    this.agents = { http: new http.Agent({ keepAlive: true, maxSockets }), https: new https.Agent({ keepAlive: true, maxSockets, ...ca }) };
    this.http = got.extend({
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      agent: this.agents,
      responseType: 'buffer',
      timeout: { request: options.requestTimeoutMs ?? 60_000 },
      headers: { 'user-agent': 'ferry-sync-client/1' },
    });
    this.runHeader = formatRunHeader(options.runName ?? 'ferry', options.runStamp ?? new Date());
  }

  get run(): string {
    return this.runHeader;
  }

  /** Which of these blocks the server lacks (split into requests of at most 10,000 hashes). */
  async missingBlocks(hashes: readonly string[], options: CallOptions = {}): Promise<string[]> {
    const missing: string[] = [];
    for (let i = 0; i < hashes.length; i += MAX_MISSING_HASHES) {
      const chunk = hashes.slice(i, i + MAX_MISSING_HASHES);
      const trackingId = options.trackingId && i > 0 ? `${options.trackingId}:${i / MAX_MISSING_HASHES}` : options.trackingId;
      const reply = await this.json(MissingBlocksReply, { ...options, trackingId, method: 'POST', url: this.url(routes.missingBlocks()), json: { hashes: chunk } });
      missing.push(...reply.missing);
    }
    return missing;
  }

  async putBlock(hash: string, data: Buffer | Readable, options: PutBlockOptions = {}): Promise<PutBlockReply> {
    assertHash(hash);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    const size = Buffer.isBuffer(data) ? data.length : options.size;
    if (size !== undefined) headers['content-length'] = String(size);
    const onProgress = options.onProgress;
    return this.json(PutBlockReply, {
      ...options,
      method: 'PUT',
      url: this.url(routes.block(hash)),
      body: data,
      headers,
      timeoutMs: this.options.blockTimeoutMs ?? 300_000,
      ...(onProgress ? { onUploadProgress: (p: Progress) => onProgress(p.transferred, p.total) } : {}),
    });
  }

  /** A block's bytes, verified against its hash (a mismatch is a retryable hash_mismatch). */
  async getBlock(hash: string, options: CallOptions = {}): Promise<Buffer> {
    assertHash(hash);
    const res = await this.send({ ...options, method: 'GET', url: this.url(routes.block(hash)), timeoutMs: this.options.blockTimeoutMs ?? 300_000, maxResponseBytes: BLOCK_SIZE });
    if (res.status !== 200) throw httpError(res.status, res.headers, res.body);
    const actual = createHash('sha256').update(res.body).digest('hex');
    if (actual !== hash) throw new FerryError('hash_mismatch', `Block ${hash} arrived with content hashing to ${actual}`, { retryable: true });
    return res.body;
  }

  /**
   * `POST /v1/blocks/batch`: many small blocks in one request (at most MAX_BLOCK_BATCH_COUNT
   * and MAX_BLOCK_BATCH_BYTES framed). Content-addressed, so a retry is harmless. A block whose
   * bytes do not match its hash fails the whole request with 422 hash_mismatch (details.hash).
   */
  async putBlocks(blocks: ReadonlyArray<{ hash: string; data: Uint8Array }> | BlockFrameWriter, options: CallOptions = {}): Promise<PutBlocksReply> {
    const written = blocks instanceof BlockFrameWriter;
    const hashes = written ? blocks.hashes : blocks.map((b) => b.hash);
    for (const h of hashes) assertHash(h);
    if (hashes.length > MAX_BLOCK_BATCH_COUNT) throw new FerryError('invalid_request', `At most ${MAX_BLOCK_BATCH_COUNT} blocks per batch`);
    const body = written ? blocks.body() : encodeBlockFrames(blocks);
    if (body.length > MAX_BLOCK_BATCH_BYTES) throw new FerryError('invalid_request', `A block batch holds at most ${MAX_BLOCK_BATCH_BYTES} bytes`);
    return this.json(PutBlocksReply, {
      ...options,
      method: 'POST',
      url: this.url(routes.blocksBatch()),
      body,
      headers: { 'content-type': BLOCK_FRAMES_TYPE, 'content-length': String(body.length) },
      timeoutMs: this.options.blockTimeoutMs ?? 300_000,
    });
  }

  /**
   * `POST /v1/blocks/fetch`: many blocks in one framed reply. Every block is checked against
   * its SHA-256 on receipt (a mismatch is a retryable hash_mismatch); a reply that breaks the
   * framing or answers other hashes than asked is a retryable malformed_reply. The map holds
   * every requested hash: its bytes, or null when the server does not hold it. A reply the
   * server cut short (size cap) is followed by a request for the rest.
   */
  async fetchBlocks(hashes: readonly string[], options: CallOptions = {}): Promise<Map<string, Buffer | null>> {
    for (const h of hashes) assertHash(h);
    const out = new Map<string, Buffer | null>();
    let rest = [...new Set(hashes)];
    let round = 0;
    while (rest.length > 0) {
      const ask = rest.slice(0, MAX_BLOCK_BATCH_COUNT);
      const trackingId = options.trackingId && round > 0 ? `${options.trackingId}:${round}` : options.trackingId;
      const res = await this.send({
        ...options,
        trackingId,
        method: 'POST',
        url: this.url(routes.blocksFetch()),
        json: { hashes: ask },
        timeoutMs: this.options.blockTimeoutMs ?? 300_000,
        // The cap plus headers; one block may exceed the cap on its own.
        maxResponseBytes: Math.max(MAX_BLOCK_BATCH_BYTES, BLOCK_SIZE) + ask.length * 68 + BLOCK_SIZE,
      });
      if (res.status >= 400) throw httpError(res.status, res.headers, res.body);
      if (res.status !== 200) throw malformedReply(`unexpected status ${res.status}`);
      const decoded = decodeBlockFrames(res.body, { allowAbsent: true, maxFrames: ask.length });
      if (!decoded.ok) throw malformedReply(`block fetch reply: ${decoded.reason}`);
      if (decoded.frames.length === 0) throw malformedReply('block fetch reply holds no block');
      decoded.frames.forEach((frame, i) => {
        if (frame.hash !== ask[i]) throw malformedReply(`block fetch reply: frame ${i} is ${frame.hash}, expected ${ask[i]}`);
        if (frame.data !== null) {
          const actual = createHash('sha256').update(frame.data).digest('hex');
          if (actual !== frame.hash) throw new FerryError('hash_mismatch', `Block ${frame.hash} arrived with content hashing to ${actual}`, { retryable: true });
        }
        out.set(frame.hash, frame.data);
      });
      rest = rest.slice(decoded.frames.length);
      round++;
    }
    return out;
  }

  async createFolder(folderId: string, request: CreateFolderRequest = {}, options: CallOptions = {}): Promise<Folder> {
    return this.json(Folder, { ...options, method: 'PUT', url: this.url(routes.folder(folderId)), json: request });
  }

  async listFolders(options: CallOptions = {}): Promise<Folder[]> {
    return (await this.json(ListFoldersReply, { ...options, method: 'GET', url: this.url(routes.folders()) })).folders;
  }

  /**
   * Sends a batch. Sync mode answers with every result; async mode (or a resubmission of a
   * known tracking id) with the task to poll. A sync batch over the server's budget throws a
   * retryable 'timeout' whose details.taskId names the task that carries on.
   */
  async submitBatch(folderId: string, operations: readonly OperationInput[], options: SubmitBatchOptions = {}): Promise<SubmitBatchReply> {
    const mode = options.mode ?? 'sync';
    const url = this.url(routes.sync(folderId));
    url.searchParams.set('mode', mode);
    const headers: Record<string, string> = options.singleOperation ? { [HEADERS.singleOperation]: '1' } : {};
    const res = await this.send({ ...options, method: 'POST', url, json: { operations }, headers, maxResponseBytes: MAX_JSON_REPLY_BYTES });
    if (res.status >= 400) throw httpError(res.status, res.headers, res.body);
    const value = parseJson(res.body);
    const schema = value && typeof value === 'object' && 'results' in value ? BatchCompletedReply : BatchAcceptedReply;
    return check(schema, value, 'batch reply');
  }

  async getTask(taskId: string, options: CallOptions = {}): Promise<Task> {
    return this.json(Task, { ...options, method: 'GET', url: this.url(routes.task(taskId)) });
  }

  /** One page of the changes feed: the full state without a token, what changed since with one. */
  async changesPage(folderId: string, query: ChangesPageQuery = {}, options: CallOptions = {}): Promise<ChangesPage> {
    let url: URL;
    if (query.next) {
      url = new URL(query.next, this.base);
      // A next link elsewhere would carry our bearer token to another host.
      if (url.origin !== this.base.origin) throw malformedReply('next link points to another origin');
    } else {
      url = this.url(routes.changes(folderId));
      url.searchParams.set('syncModifications', 'true');
      if (query.cursor) url.searchParams.set('cursor', query.cursor);
      else if (query.syncToken) url.searchParams.set('syncToken', query.syncToken);
    }
    if (query.limit !== undefined) url.searchParams.set('limit', String(query.limit));
    return this.json(ChangesPage, { ...options, method: 'GET', url, maxResponseBytes: MAX_JSON_REPLY_BYTES });
  }

  /** Long poll: true as soon as the folder changed after the token, false at the timeout. */
  async waitForChanges(folderId: string, syncToken: string, timeoutSec: number, options: CallOptions | AbortSignal = {}): Promise<boolean> {
    const call: CallOptions = options instanceof AbortSignal ? { signal: options } : options;
    const url = this.url(routes.changesWait(folderId));
    url.searchParams.set('syncToken', syncToken);
    url.searchParams.set('timeout', String(Math.max(0, Math.floor(timeoutSec))));
    const reply = await this.json(WaitReply, { ...call, method: 'GET', url, timeoutMs: timeoutSec * 1000 + 30_000 });
    return reply.changes;
  }

  /** This device's digest of a folder (docs/sync-api.md, "Devices"). */
  async reportDevice(folderId: string, report: DeviceReport, options: CallOptions = {}): Promise<DeviceReportReply> {
    return this.json(DeviceReportReply, { ...options, method: 'PUT', url: this.url(routes.device(folderId, this.options.deviceId)), json: report });
  }

  /** Every device's state of a folder, as they last reported it. */
  async listDevices(folderId: string, options: CallOptions = {}): Promise<DeviceState[]> {
    const reply = await this.json(DevicesReply, { ...options, method: 'GET', url: this.url(routes.devices(folderId)) });
    return reply.serverTime === undefined ? reply.devices : onLocalClock(reply.devices, Date.parse(reply.serverTime), Date.now());
  }

  // ── history and restore (docs/sync-api.md, "History and restore"); restores are batch operations ──

  /** One page of a path's retained revisions, newest first; `next` is a previous page's next href. */
  async historyPage(folderId: string, query: { path: string; next?: string; limit?: number }, options: CallOptions = {}): Promise<HistoryPage> {
    const url = this.pageUrl(routes.history(folderId), query.next, { path: query.path, limit: query.limit });
    return this.json(HistoryPage, { ...options, method: 'GET', url, maxResponseBytes: MAX_JSON_REPLY_BYTES });
  }

  /**
   * One revision of a path with its block hashes (`history?path=P&revision=R`, docs/sync-api.md
   * "History and restore"). A server before that extension refuses the query key (400
   * invalid_request) or ignores it and lists the path: either is `preview_unsupported`. A reply
   * that answers another revision, or more than one, is a malformed_reply.
   */
  async historyVersion(folderId: string, query: { path: string; revision: string }, options: CallOptions = {}): Promise<HistoryItem & { blocks: string[] }> {
    if (!Revision.safeParse(query.revision).success) throw new FerryError('invalid_request', `Not a revision: ${String(query.revision).slice(0, 40)}`);
    const url = this.pageUrl(routes.history(folderId), undefined, { path: query.path, revision: query.revision });
    let page: HistoryPage;
    try {
      page = await this.json(HistoryPage, { ...options, method: 'GET', url, maxResponseBytes: MAX_JSON_REPLY_BYTES });
    } catch (error) {
      if (error instanceof FerryError && error.code === 'invalid_request' && error.status === 400) throw previewUnsupported(error.message, error);
      throw error;
    }
    if (page.items.every((i) => i.blocks === undefined)) throw previewUnsupported('it answered the listing without blocks');
    const [item] = page.items;
    if (page.items.length !== 1 || item?.revision !== query.revision || item.blocks === undefined) {
      throw malformedReply(`history of revision ${query.revision}: answered ${page.items.length} item(s), ${page.items.map((i) => i.revision).slice(0, 3).join(', ')}`);
    }
    return { ...item, blocks: item.blocks };
  }

  /** One page of the paths whose current entry is a deletion, newest deletion first. */
  async deletedPage(folderId: string, query: { prefix?: string; since?: string; moved?: boolean; next?: string; limit?: number }, options: CallOptions = {}): Promise<DeletedPage> {
    const url = this.pageUrl(routes.deleted(folderId), query.next, { prefix: query.prefix, since: query.since, moved: query.moved ? 'true' : undefined, limit: query.limit });
    return this.json(DeletedPage, { ...options, method: 'GET', url, maxResponseBytes: MAX_JSON_REPLY_BYTES });
  }

  /** A next href as the server sent it (same origin only: it carries our token), else the first page's URL. */
  private pageUrl(first: string, next: string | undefined, params: Record<string, string | number | undefined>): URL {
    if (next) {
      const url = new URL(next, this.base);
      if (url.origin !== this.base.origin) throw malformedReply('next link points to another origin');
      return url;
    }
    const url = this.url(first);
    for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, String(value));
    return url;
  }

  /** A cheap authenticated request: resolves when the server is reachable and accepts the token. */
  /**
   * `POST /v1/pair`: trades a one-time pairing code for this device's own token (the one
   * request that needs no token; a client made for it may be given an empty one).
   */
  async pair(request: PairRequest, options: CallOptions = {}): Promise<PairReply> {
    return this.json(PairReply, { ...options, method: 'POST', url: this.url(routes.pair()), json: request });
  }

  async probe(options: CallOptions = {}): Promise<void> {
    await this.listFolders(options);
  }

  /** Closes the keep-alive sockets. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private url(path: string): URL {
    return new URL(path.replace(/^\//, ''), this.base);
  }

  private async json<S extends z.ZodType>(schema: S, spec: RequestSpec): Promise<z.output<S>> {
    const res = await this.send({ maxResponseBytes: MAX_JSON_REPLY_BYTES, ...spec });
    if (res.status >= 400) throw httpError(res.status, res.headers, res.body);
    if (res.status < 200 || res.status >= 300) throw malformedReply(`unexpected status ${res.status}`);
    return check(schema, parseJson(res.body), `${spec.method} ${spec.url.pathname}`);
  }

  private async send(spec: RequestSpec): Promise<RawResponse> {
    const headers: Record<string, string> = {
      ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
      [HEADERS.device]: this.options.deviceId,
      [HEADERS.run]: spec.run ?? this.runHeader,
      [HEADERS.trackingId]: spec.trackingId ?? randomUUID(),
      ...spec.headers,
    };
    if (spec.signal?.aborted) throw transportError(spec.signal.reason, spec.signal);
    const sentAt = performance.now();
    const request = this.http(spec.url, {
      method: spec.method,
      headers,
      ...(spec.json !== undefined ? { json: spec.json } : {}),
      ...(spec.body !== undefined ? { body: spec.body } : {}),
      ...(spec.signal ? { signal: spec.signal } : {}),
      ...(spec.timeoutMs ? { timeout: { request: spec.timeoutMs } } : {}),
    });
    if (spec.onUploadProgress) request.on('uploadProgress', spec.onUploadProgress);
    let tooLarge = false;
    if (spec.maxResponseBytes !== undefined) {
      const limit = spec.maxResponseBytes;
      request.on('downloadProgress', (p: Progress) => {
        if (p.transferred > limit && !tooLarge) {
          tooLarge = true;
          request.cancel();
        }
      });
    }
    let res: Response;
    try {
      res = await request;
    } catch (error) {
      const failure = tooLarge ? malformedReply(`reply larger than ${spec.maxResponseBytes} bytes`) : withSchemeHint(transportError(error, spec.signal, { host: this.base.host, caGiven: this.options.ca !== undefined }), this.base.protocol);
      this.options.observer?.failed(failure, sentAt);
      throw failure;
    }
    const reply = { status: res.statusCode, headers: res.headers, body: res.rawBody ?? Buffer.alloc(0) };
    if (reply.status < 400) this.options.observer?.answered(sentAt);
    else this.options.observer?.failed(httpError(reply.status, reply.headers, reply.body), sentAt);
    return reply;
  }
}


/** A server before the `revision=R` extension of the history route (docs/sync-api.md, "History and restore"). */
function previewUnsupported(answered: string, cause?: unknown): FerryError {
  return new FerryError('preview_unsupported', `This server cannot show a version's content (it is older than that; it answered: ${answered}): restore the version to see it`, {
    retryable: false,
    ...(cause !== undefined ? { cause } : {}),
  });
}

function assertHash(hash: string): void {
  if (!isSha256Hex(hash)) throw new FerryError('invalid_request', `Not a SHA-256 block address: ${String(hash).slice(0, 80)}`);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (error) {
    throw malformedReply('body is not JSON', error);
  }
}

function check<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  throw malformedReply(`${what}: ${first ? `${first.path.join('.') || '(root)'} ${first.message}` : 'does not match the schema'}`, parsed.error);
}

/**
 * `lastSeen` moved from the server's clock onto this computer's (by how far the two differ when
 * the reply came): "not heard from for three minutes" compares it with this clock, and one three
 * minutes off read every device as silent (docs/sync-api.md, "Devices").
 */
export function onLocalClock(devices: DeviceState[], serverTime: number, localTime: number): DeviceState[] {
  const skew = localTime - serverTime;
  if (skew === 0 || !Number.isFinite(skew)) return devices;
  return devices.map((d) => ({ ...d, lastSeen: new Date(Date.parse(d.lastSeen) + skew).toISOString() }));
}
