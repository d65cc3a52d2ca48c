import { createHash } from 'node:crypto';
import {
  BLOCK_FRAMES_TYPE,
  BLOCK_SIZE,
  FetchBlocksRequest,
  MAX_BLOCK_BATCH_BYTES,
  MAX_BLOCK_BATCH_COUNT,
  decodeBlockFrames,
  encodeBlockFrames,
  ChangesQuery,
  CreateFolderRequest,
  DeviceId,
  DeviceReport,
  DeletedQuery,
  HistoryQuery,
  FerryError,
  FolderId,
  MissingBlocksRequest,
  TaskId,
  WaitQuery,
  isSha256Hex,
  runStartOf,
  type DeviceReportReply,
  type DevicesReply,
  type ListFoldersReply,
  type MissingBlocksReply,
  type PutBlockReply,
  type PutBlocksReply,
  type WaitReply,
} from '../protocol';
import type { Access } from './access';
import { legacyBatchFingerprint, singleOperation, submitBatch, type BatchDeps } from './batches';
import type { ChangesFeed } from './changes';
import type { DeviceReports } from './device-reports';
import type { LostBlocks } from './lost-blocks';
import type { FolderStore } from './folders';
import type { HistoryReader } from './history';
import type { ServerMetrics } from './metrics';
import { route, type RequestContext, type Route } from './http';
import { fingerprint } from './idempotency';
import type { BlockStore } from './storage/blocks';
import type { TaskStore } from './task-store';
import { parseInput } from './validation';

export interface RouteDeps extends BatchDeps {
  blocks: BlockStore;
  folders: FolderStore;
  feed: ChangesFeed;
  tasks: TaskStore;
  reports: DeviceReports;
  lost: LostBlocks;
  /** What the asking device may reach: others' folders and blocks look absent. */
  access: Access;
  history: HistoryReader;
  metrics: ServerMetrics;
  /** Retention, then garbage collection (server/gc.ts); `POST /v1/maintenance/gc`. */
  runGc: () => Promise<object>;
  /** Runs the periodic clean-up when it is due (cheap otherwise). */
  maintain: () => Promise<void>;
}

const notFound = (what: string) => new FerryError('not_found', `${what} not found`, { status: 404 });

function blockHash(ctx: RequestContext): string {
  const hash = ctx.params.hash ?? '';
  if (!isSha256Hex(hash)) throw new FerryError('invalid_request', 'Block address must be a SHA-256 as 64 lowercase hex characters', { status: 400 });
  return hash;
}

/**
 * Blocks a reader may know of, asked for and not found: a version refers to them, so their
 * bytes are lost (server/lost-blocks.ts). A block gone with every version that named it is not recorded.
 */
async function noticeLost(ctx: RequestContext, deps: RouteDeps, hashes: string[]): Promise<void> {
  if (hashes.length === 0) return;
  ctx.log.warn('blocks asked for are not in the block store', { count: hashes.length, first: hashes[0] });
  await deps.lost.notice(hashes);
}

async function existingFolder(ctx: RequestContext, deps: RouteDeps): Promise<string> {
  const id = parseInput(FolderId, ctx.params.folderId, 'folder id');
  if (!(await deps.folders.get(id)) || !(await deps.access.reaches(ctx.principal, id))) throw notFound(`Folder '${id}'`);
  return id;
}

/** The batch's folder, once the device may reach it and read every block the batch refers to. */
async function readableBatch(ctx: RequestContext, deps: RouteDeps): Promise<string> {
  const id = await existingFolder(ctx, deps);
  const unreadable = await deps.access.unreadableInBatch(ctx.principal, ctx.body);
  if (unreadable.length > 0) {
    throw new FerryError('invalid_request', `${unreadable.length} block(s) were not uploaded from this account: upload them first (blocks/missing lists them)`, {
      status: 400,
      details: { missing: unreadable.slice(0, 1000) },
    });
  }
  return id;
}

const queryOf = (ctx: RequestContext): Record<string, string> => Object.fromEntries(ctx.query);

/**
 * Body limits of the small JSON requests, sized to their largest legitimate form: 10,000
 * hashes of 67 bytes each is 670 KB; a folder body is one label. Batches take the server's
 * maxBodyBytes (docs/sync-api.md, "Limits").
 */
const HASH_LIST_BODY_BYTES = 1024 * 1024;
const FOLDER_BODY_BYTES = 64 * 1024;
/** A device report: 100 failing paths of up to 1 KiB each, and the rest. */
const DEVICE_REPORT_BODY_BYTES = 256 * 1024;

/** Every Sync API v1 endpoint. Routes marked idempotent answer a repeated X-Tracking-Id as the first time. */
export function buildRoutes(deps: RouteDeps): Route[] {
  return [
    route(
      'POST',
      '/v1/blocks/missing',
      'json',
      async (ctx) => {
        const { hashes } = parseInput(MissingBlocksRequest, ctx.body, 'request');
        // A block the device may not read is reported missing: its existence is not revealed.
        const absent = new Set(await deps.blocks.missing(hashes));
        const readable = await deps.access.readable(ctx.principal, hashes);
        const body: MissingBlocksReply = { missing: [...new Set(hashes)].filter((h) => absent.has(h) || !readable.has(h)) };
        return { status: 200, body };
      },
      { maxBodyBytes: HASH_LIST_BODY_BYTES },
    ),
    // Block PUTs keep no idempotency record: a block is addressed by its content, so a repeat
    // (same tracking id or not) stores nothing new and answers success again (200, stored:
    // false). The only thing a replay could differ in is 201 vs 200, which means nothing.
    route('PUT', '/v1/blocks/{hash}', 'stream', async (ctx) => {
      const hash = blockHash(ctx);
      const declared = Number(ctx.req.headers['content-length']);
      if (Number.isFinite(declared) && declared > BLOCK_SIZE) {
        throw new FerryError('payload_too_large', `A block holds at most ${BLOCK_SIZE} bytes`, { status: 413 });
      }
      const known = (await deps.access.readable(ctx.principal, [hash])).has(hash);
      const written = await deps.blocks.write(hash, ctx.req.iterator({ destroyOnReturn: false }));
      deps.metrics.blockWritten(written.stored, written.size);
      await deps.access.uploaded(ctx.principal, [hash]);
      // Stored once for everyone; to a device that could not read it before, it is new.
      const stored = written.stored || !known;
      const body: PutBlockReply = { hash, size: written.size, stored };
      return { status: stored ? 201 : 200, body };
    }),
    // Many small blocks in one framed body; all are verified before any is stored.
    route('POST', '/v1/blocks/batch', 'stream', async (ctx) => {
      const raw = await ctx.readBody(MAX_BLOCK_BATCH_BYTES);
      const decoded = decodeBlockFrames(raw, { allowAbsent: false, maxFrames: MAX_BLOCK_BATCH_COUNT });
      if (!decoded.ok) throw new FerryError('invalid_request', `Malformed block batch: ${decoded.reason}`, { status: 400 });
      for (const { hash, data } of decoded.frames) {
        const actual = createHash('sha256').update(data as Buffer).digest('hex');
        if (actual !== hash) throw new FerryError('hash_mismatch', `Block content hashes to ${actual}, not ${hash}`, { status: 422, details: { hash } });
      }
      const frames = decoded.frames as Array<{ hash: string; data: Buffer }>;
      const known = await deps.access.readable(ctx.principal, frames.map((f) => f.hash));
      const written = await deps.blocks.writeVerified(frames);
      written.forEach((stored, i) => deps.metrics.blockWritten(stored, frames[i]?.data.length ?? 0));
      await deps.access.uploaded(ctx.principal, frames.map((f) => f.hash));
      const stored = written.map((s, i) => s || !known.has(frames[i]?.hash ?? ''));
      const seen = new Set<string>();
      const body: PutBlocksReply = { blocks: [] };
      frames.forEach(({ hash, data }, i) => {
        if (seen.has(hash)) return;
        seen.add(hash);
        body.blocks.push({ hash, size: data.length, stored: stored[i] ?? false });
      });
      return { status: 200, body };
    }),
    // Many blocks in one framed reply, in the order asked, ABSENT_BLOCK for unknown ones.
    route(
      'POST',
      '/v1/blocks/fetch',
      'json',
      async (ctx) => {
        const { hashes } = parseInput(FetchBlocksRequest, ctx.body, 'request');
        const readable = await deps.access.readable(ctx.principal, hashes);
        const found = await deps.blocks.readMany(hashes, MAX_BLOCK_BATCH_BYTES);
        await noticeLost(ctx, deps, found.flatMap((data, i) => (data === null && readable.has(hashes[i] as string) ? [hashes[i] as string] : [])));
        const payload = encodeBlockFrames(found.map((data, i) => ({ hash: hashes[i] as string, data: readable.has(hashes[i] as string) ? data : null })));
        ctx.res.writeHead(200, { 'content-type': BLOCK_FRAMES_TYPE, 'content-length': payload.length, 'cache-control': 'no-store', 'x-tracking-id': ctx.trackingId });
        ctx.res.end(payload);
        return null;
      },
      { maxBodyBytes: HASH_LIST_BODY_BYTES },
    ),
    route('GET', '/v1/blocks/{hash}', 'none', async (ctx) => {
      const hash = blockHash(ctx);
      const readable = (await deps.access.readable(ctx.principal, [hash])).has(hash);
      const block = readable ? await deps.blocks.open(hash) : null;
      if (!block) {
        if (readable) await noticeLost(ctx, deps, [hash]);
        throw notFound('Block');
      }
      ctx.res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': block.size, 'x-tracking-id': ctx.trackingId });
      await new Promise<void>((resolve, reject) => {
        block.stream.on('error', reject);
        // A client gone before the end: the stream is let go with its open file.
        ctx.res.on('close', () => {
          block.stream.destroy();
          resolve();
        });
        block.stream.pipe(ctx.res);
      });
      return null;
    }),
    route('GET', '/v1/folders', 'none', async (ctx) => {
      const body: ListFoldersReply = { folders: await deps.access.visible(ctx.principal, await deps.folders.list()) };
      return { status: 200, body };
    }),
    route(
      'PUT',
      '/v1/folders/{folderId}',
      'json',
      async (ctx) => {
        const id = parseInput(FolderId, ctx.params.folderId, 'folder id');
        const request = parseInput(CreateFolderRequest, ctx.body ?? {}, 'folder');
        // Folder ids are server-wide: one taken by a folder this device does not reach is 404.
        if ((await deps.folders.get(id)) && !(await deps.access.reaches(ctx.principal, id))) throw notFound(`Folder '${id}'`);
        const { folder, created } = await deps.folders.create(id, request.label ?? null);
        if (created) await deps.access.created(ctx.principal, id);
        if (created) ctx.log.info('folder created', { folderId: id });
        return { status: created ? 201 : 200, body: folder };
      },
      // Records written before the parsed body was fingerprinted used the raw path and body.
      { maxBodyBytes: FOLDER_BODY_BYTES, idempotent: 'replay', legacyFingerprint: (ctx, raw) => fingerprint(ctx.method, ctx.pathname, raw.toString('utf8')) },
    ),
    route('GET', '/v1/folders/{folderId}', 'none', async (ctx) => {
      const id = await existingFolder(ctx, deps);
      return { status: 200, body: (await deps.folders.list()).find((f) => f.id === id) };
    }),
    route('POST', '/v1/folders/{folderId}/sync', 'json', async (ctx) => submitBatch(ctx, await readableBatch(ctx, deps), deps), {
      idempotent: 'task',
      fingerprintHeaders: (ctx) => [singleOperation(ctx) ? '1' : '0'],
      legacyFingerprint: legacyBatchFingerprint,
    }),
    route('GET', '/v1/tasks/{taskId}', 'none', async (ctx) => {
      const id = parseInput(TaskId, ctx.params.taskId, 'task id');
      const row = await deps.tasks.byId(id);
      if (!row || !(await deps.access.reaches(ctx.principal, row.folder_id))) throw notFound('Task');
      return { status: 200, body: await deps.tasks.toWire(row) };
    }),
    route('GET', '/v1/folders/{folderId}/changes', 'none', async (ctx) => {
      const id = await existingFolder(ctx, deps);
      const query = parseInput(ChangesQuery, queryOf(ctx), 'query');
      await deps.maintain();
      return { status: 200, body: await deps.feed.page(id, query) };
    }),
    // Device digests (docs/sync-api.md, "Devices"). A device reports for itself only: the id in
    // the path is the one its X-Ferry-Device header names, and a paired device's reports are
    // bound to its credential (a header alone proves nothing).
    route(
      'PUT',
      '/v1/folders/{folderId}/devices/{deviceId}',
      'json',
      async (ctx) => {
        const id = await existingFolder(ctx, deps);
        const device = parseInput(DeviceId, ctx.params.deviceId, 'device id');
        if (device !== ctx.device) throw new FerryError('invalid_request', 'A device reports only for itself: the path must name its X-Ferry-Device', { status: 400 });
        // A late stop of an earlier run (its run older than the newest one that reported) is ignored.
        await deps.reports.record(id, device, parseInput(DeviceReport, ctx.body, 'device report'), ctx.principal.kind === 'device' ? ctx.principal.deviceId : null, runStartOf(ctx.run));
        const state = (await deps.reports.list(id)).find((d) => d.device === device);
        // Blocks of this folder the server lost: a device holding their bytes uploads them again.
        const wanted = await deps.lost.wanted(id);
        const body: DeviceReportReply | undefined = state && (wanted.length > 0 ? { ...state, wantedBlocks: wanted } : state);
        return { status: 200, body };
      },
      { maxBodyBytes: DEVICE_REPORT_BODY_BYTES },
    ),
    route('GET', '/v1/folders/{folderId}/devices', 'none', async (ctx) => {
      const body: DevicesReply = await deps.reports.reply(await existingFolder(ctx, deps));
      return { status: 200, body };
    }),
    route('GET', '/v1/folders/{folderId}/changes/wait', 'none', async (ctx) => {
      const id = await existingFolder(ctx, deps);
      const query = parseInput(WaitQuery, queryOf(ctx), 'query');
      await deps.maintain();
      const changes = await deps.feed.wait(id, query.syncToken, query.timeout, ctx.signal);
      await deps.access.stillReaches(ctx.principal, id);
      const body: WaitReply = { changes };
      return { status: 200, body };
    }),
    // ── retention and garbage collection (`ferry server gc`) ──
    // The server's own credential only: a paired device must not make the server work on
    // everyone's data (it answers 404, as if the route were not there).
    route('POST', '/v1/maintenance/gc', 'none', async (ctx) => {
      if (ctx.principal.kind !== 'server') throw notFound('Route');
      ctx.log.info('garbage collection requested');
      return { status: 200, body: await deps.runGc() };
    }),
    // ── history and restore (server/history.ts; restores are batch operations) ──
    route('GET', '/v1/folders/{folderId}/history', 'none', async (ctx) => {
      const id = await existingFolder(ctx, deps);
      return { status: 200, body: await deps.history.history(id, parseInput(HistoryQuery, queryOf(ctx), 'query')) };
    }),
    route('GET', '/v1/folders/{folderId}/deleted', 'none', async (ctx) => {
      const id = await existingFolder(ctx, deps);
      return { status: 200, body: await deps.history.deleted(id, parseInput(DeletedQuery, queryOf(ctx), 'query')) };
    }),
  ];
}
