// The pusher's requests to the server: block uploads (deduplicated, small blocks grouped into
// one batch request, read through shared buffers, throttled by the bandwidth bucket) and keyed
// commits (sync, then async on a 504, polled to the end), each in its limiter's slot, retried
// in place with backoff and held while the server is offline. Everything here talks to the
// Sync API; what the answers mean for the queue is send.ts (docs/architecture.md).
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BLOCK_FRAME_HEADER_BYTES, BLOCK_SIZE, BATCHABLE_BLOCK_BYTES, BlockFrameWriter, MAX_MISSING_HASHES, type BatchResults, type OperationInput } from '../../../protocol';
import { FerryError } from '../../../protocol/errors';
import type { Logger } from '../../logging';
import { isDiskFull } from '../disk-full';
import type { AsyncTask, TaskItem, TaskRepo } from '../../store/tasks';
import { COUNTED_BLOCK_BYTES, throttledBody, type TokenBucket } from './bandwidth';
import type { PushCallOptions, PushRemote } from './remote-port';
import { backoffMs, classify, mayRetry, type RetryOptions, type Verdict } from './retry-policy';
import { abortError, sleep, type Timers } from './timers';

// ---- limiter -----------------------------------------------------------------------------------

interface Waiter {
  weight: number;
  resolve: (release: () => void) => void;
  reject: (error: unknown) => void;
}

/**
 * Bounded parallelism for uploads, weighted by bytes: `capacity` bytes and at most
 * `maxHolders` requests in flight. Four 4 MiB blocks or dozens of 4 KiB ones: big
 * transfers are bounded by memory and bandwidth, small ones by latency. FIFO.
 */
export class Limiter {
  private used = 0;
  private holders = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    private capacity: number,
    private maxHolders: number,
  ) {}

  setLimits(capacity: number, maxHolders: number): void {
    this.capacity = capacity;
    this.maxHolders = maxHolders;
    this.pump();
  }

  get inFlight(): number {
    return this.holders;
  }

  /**
   * Waits for room. Thousands may wait at once, so waiters do not each listen on the signal
   * (EventTarget removal is linear); stop() calls cancelAll() instead.
   */
  acquire(weight: number, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortError());
    // A request heavier than the whole capacity still runs, alone.
    const w = Math.min(weight, this.capacity);
    return new Promise((resolve, reject) => {
      this.queue.push({ weight: w, resolve, reject });
      this.pump();
    });
  }

  /** Rejects every waiter (stop). Holders keep their slots until they release them. */
  cancelAll(): void {
    for (const w of this.queue.splice(0)) w.reject(abortError());
  }

  /** Runs fn holding `weight`. */
  async with<T>(weight: number, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(weight, signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0] as Waiter;
      if (this.holders >= this.maxHolders || (this.holders > 0 && this.used + head.weight > this.capacity)) return;
      this.queue.shift();
      this.used += head.weight;
      this.holders++;
      let released = false;
      head.resolve(() => {
        if (released) return;
        released = true;
        this.used -= head.weight;
        this.holders--;
        this.pump();
      });
    }
  }
}

// ---- block-buffers -----------------------------------------------------------------------------

/**
 * Reusable block-sized buffers for reading large blocks. A fresh 4 MiB buffer per block is
 * external memory V8 must collect: a 1 GiB upload spent about a second of CPU in the
 * garbage collector, on a machine where the agent and the server share two cores.
 *
 * A buffer goes back only once its request has settled. Should a socket still be writing
 * from it after an early error reply, the next block's bytes can only reach a request the
 * server has already answered, and the server checks every block against its hash.
 */
export class BlockBuffers {
  private readonly free: Buffer[] = [];

  constructor(private readonly keep: number) {}

  /** A buffer of exactly `length` bytes (contents undefined). */
  take(length: number): Buffer {
    if (length < POOLED_MIN) return Buffer.allocUnsafe(length);
    if (length > BLOCK_SIZE) return Buffer.allocUnsafeSlow(length);
    const whole = this.free.pop() ?? Buffer.allocUnsafeSlow(BLOCK_SIZE);
    return whole.subarray(0, length);
  }

  give(buffer: Buffer): void {
    if (buffer.length < POOLED_MIN || buffer.buffer.byteLength !== BLOCK_SIZE) return;
    if (this.free.length < this.keep) this.free.push(Buffer.from(buffer.buffer, 0, BLOCK_SIZE));
  }
}

/** Below this a plain allocation is cheap (and comes from Node's own small-buffer pool). */
const POOLED_MIN = 256 * 1024;

// ---- tracking-ids ------------------------------------------------------------------------------

type PutBlocks = (blocks: BlockFrameWriter, options?: PushCallOptions) => Promise<unknown>;

/**
 * Block requests are content-addressed: asking which of these hashes the server lacks, or
 * putting the block with this hash, is the same logical request whenever it is made. A
 * retryable failure of one sends its items back to the queue (retry_wait) and the next
 * claim uploads them again through a fresh request, so this remembers the tracking id of
 * each such request's first try and gives it to every retry until one succeeds: a retried
 * request reuses its tracking id (docs/sync-api.md). A changed set of hashes is another request.
 */
export function stableTrackingIds(remote: PushRemote, max = 10_000): PushRemote {
  const ids = new Map<string, string>();
  async function keyed<O extends PushCallOptions, T>(key: string, options: O | undefined, call: (options: O | undefined) => Promise<T>): Promise<T> {
    const given = options?.trackingId;
    if (given === undefined) return call(options);
    let id = ids.get(key);
    if (id === undefined) {
      id = given;
      ids.set(key, id);
      // Items that failed for good leave their ids behind: keep the newest only.
      if (ids.size > max) ids.delete(ids.keys().next().value as string);
    }
    const value = await call({ ...options, trackingId: id } as O);
    ids.delete(key);
    return value;
  }
  const out: PushRemote = {
    missingBlocks: (hashes, options) => keyed(`missing:${digest(hashes)}`, options, (o) => remote.missingBlocks(hashes, o)),
    putBlock: (hash, body, options) => keyed(`put:${hash}`, options, (o) => remote.putBlock(hash, body, o)),
    submitBatch: (folderId, operations, options) => remote.submitBatch(folderId, operations, options),
    getTask: (taskId, options) => remote.getTask(taskId, options),
    probe: (options) => remote.probe(options),
  };
  // Optional in the port (a server without the batch extension): offered only while the
  // remote has it, looked up at each use like a direct call would.
  const batchOf = () => (remote as { putBlocks?: PutBlocks }).putBlocks;
  const batched: PutBlocks = (blocks, options) =>
    keyed(`batch:${digest(blocks.hashes)}`, options, (o) => (batchOf() as PutBlocks).call(remote, blocks, o));
  Object.defineProperty(out, 'putBlocks', { enumerable: true, get: () => (typeof batchOf() === 'function' ? batched : undefined) });
  return out;
}

function digest(hashes: readonly string[]): string {
  const h = createHash('sha256');
  for (const x of hashes) h.update(x).update('\n');
  return h.digest('hex');
}

// ---- attempt -----------------------------------------------------------------------------------

export interface RetryInfo {
  label: string;
  retry: number;
  delayMs: number;
  verdict: Verdict;
}

export interface AttemptContext {
  retry: () => RetryOptions;
  random: () => number;
  timers: Timers;
  offline: OfflineMonitor;
  /** Resolves while running; waits while paused; rejects once stopped. */
  gate: () => Promise<void>;
  signal: AbortSignal;
  onRetry?: (info: RetryInfo) => void;
}

/** Set on the error a request gives up with, so callers can tell exhaustion from a permanent error. */
export interface GiveUp {
  verdict: Verdict;
  retries: number;
}

export function giveUpOf(error: unknown): GiveUp | undefined {
  return (error as { giveUp?: GiveUp } | null)?.giveUp;
}

/**
 * Per-request hooks: the commit stage uses them to make an in-place retry visible on the
 * items the request serves, and to bound it by those items' own retry budgets.
 */
export interface RetryHooks {
  /** May the request be tried again after `retries` retries? Default: the context's retry limit. */
  mayRetry?: (retries: number) => boolean;
  /** A backoff starts: the next try is at `at` (ms since epoch). */
  onWait?: (info: RetryInfo & { at: number }) => void;
  /** The backoff is over: the next try starts now. */
  onTry?: (retry: number) => void;
}

/** May retry number `retries + 1` happen? */
export function retryAllowed(ctx: AttemptContext, retries: number, hooks: RetryHooks = {}): boolean {
  return hooks.mayRetry ? hooks.mayRetry(retries) : mayRetry(retries, ctx.retry());
}

/** Sleeps the backoff before retry number `retry`, telling the hooks when it starts and ends. */
export async function backoff(ctx: AttemptContext, label: string, retry: number, verdict: Verdict, hooks: RetryHooks = {}): Promise<void> {
  const delayMs = backoffMs(retry, ctx.retry(), ctx.random, verdict.action === 'retry' ? verdict.retryAfterMs : undefined);
  const info = { label, retry, delayMs, verdict };
  ctx.onRetry?.(info);
  hooks.onWait?.({ ...info, at: ctx.timers.now() + delayMs });
  await sleep(ctx.timers, delayMs, ctx.signal);
  hooks.onTry?.(retry);
}

/**
 * Runs one logical request until it succeeds, the error is permanent, or the retry limit is
 * spent. The caller's fn closes over its tracking id, so every retry reuses it. Offline time
 * is not a retry: it waits for the monitor and tries again. Backoff sleeps hold no slot.
 */
export async function withRetries<T>(ctx: AttemptContext, label: string, fn: () => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
  let retries = 0;
  for (;;) {
    await ctx.gate();
    await ctx.offline.waitOnline(ctx.signal);
    try {
      const value = await fn();
      ctx.offline.reportOnline();
      return value;
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      const verdict = classify(error);
      if (verdict.action === 'offline') {
        ctx.offline.reportOffline(verdict.message);
        continue;
      }
      ctx.offline.reportOnline();
      if (verdict.action === 'fail' || !retryAllowed(ctx, retries, hooks)) throw giveUp(error, verdict, retries);
      retries++;
      await backoff(ctx, label, retries, verdict, hooks);
    }
  }
}

function giveUp(error: unknown, verdict: Verdict, retries: number): FerryError {
  const suffix = retries > 0 ? ` (gave up after ${retries} ${retries === 1 ? 'retry' : 'retries'})` : '';
  const out = new FerryError(verdict.code, `${verdict.message}${suffix}`, {
    retryable: false,
    cause: error,
    ...(error instanceof FerryError && error.status !== undefined ? { status: error.status } : {}),
  });
  Object.assign(out, { giveUp: { verdict, retries } satisfies GiveUp });
  return out;
}

// ---- offline -----------------------------------------------------------------------------------

export type Connectivity = 'online' | 'offline';

export interface OfflineOptions {
  /** A cheap request; resolving (or any answer from the server) means it is reachable. */
  probe: () => Promise<unknown>;
  timers: Timers;
  random?: () => number;
  /** Probe backoff: full jitter from baseMs, capped at capMs (never below minMs). */
  baseMs?: number;
  capMs?: number;
  minMs?: number;
  onChange?: (state: Connectivity, reason?: string) => void;
}

/**
 * Online/offline as a small state machine. Work that hits "connection refused" or a DNS
 * failure reports it and then waits here; a probe loop with backoff finds the server again
 * and releases every waiter, so nothing is failed for being offline.
 */
export class OfflineMonitor {
  private current: Connectivity = 'online';
  private probes = 0;
  private timer: unknown;
  private waiters = new Set<() => void>();
  private stopped = false;

  constructor(private readonly o: OfflineOptions) {}

  get state(): Connectivity {
    return this.current;
  }

  reportOffline(reason: string): void {
    if (this.stopped || this.current === 'offline') return;
    this.current = 'offline';
    this.probes = 0;
    this.o.onChange?.('offline', reason);
    this.schedule();
  }

  /** Some request got through: the server is reachable. */
  reportOnline(): void {
    if (this.current === 'online') return;
    this.o.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.current = 'online';
    // The waiters first: once online, nothing wakes them again, so a listener that throws
    // must not keep them waiting for ever (chaos seed 1, --disk-full).
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
    this.o.onChange?.('online');
  }

  waitOnline(signal?: AbortSignal): Promise<void> {
    if (this.current === 'online') return Promise.resolve();
    if (signal?.aborted) return Promise.reject(abortError());
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(done);
        reject(abortError());
      };
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Probes right away (e.g. the OS said the network is back, or the user pressed Sync now). */
  probeNow(): void {
    if (this.current !== 'offline' || this.stopped) return;
    this.o.timers.clearTimeout(this.timer);
    this.timer = undefined;
    void this.runProbe();
  }

  /** Undoes stop(): probing resumes if still offline. */
  restart(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (this.current === 'offline') this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.o.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped || this.current !== 'offline') return;
    this.probes++;
    const base = this.o.baseMs ?? 500;
    const cap = this.o.capMs ?? 60_000;
    const delay = Math.max(this.o.minMs ?? 100, backoffMs(this.probes, { baseMs: base, capMs: cap }, this.o.random ?? Math.random));
    this.timer = this.o.timers.setTimeout(() => {
      this.timer = undefined;
      void this.runProbe();
    }, delay);
  }

  private async runProbe(): Promise<void> {
    try {
      await this.o.probe();
      this.reportOnline();
    } catch (error) {
      // An HTTP error still proves the server answers; only "unreachable" keeps us offline.
      if (classify(error).action === 'offline') this.schedule();
      else this.reportOnline();
    }
  }
}

// ---- uploader ----------------------------------------------------------------------------------

/** What the uploader needs of a queue item: the snapshot the scanner hashed. */
export interface UploadSnapshot {
  path: string;
  size: number;
  blocks: string[];
}

export const FILE_CHANGED = 'file_changed';

export function fileChanged(path: string, why: string): FerryError {
  return new FerryError(FILE_CHANGED, `${path} changed since it was hashed (${why})`, { retryable: true });
}

export interface UploaderDeps {
  remote: PushRemote;
  attempt: AttemptContext;
  limiter: Limiter;
  /** The bandwidth limit's bucket while a limit is set; null: none, nothing to wait for. */
  throttle: () => TokenBucket | null;
  run: () => string;
}

/**
 * Small blocks per `POST /v1/blocks/batch`, and bytes per request: a group is sent once it
 * reaches either, so its framed body stays far inside the protocol's MAX_BLOCK_BATCH_COUNT and
 * MAX_BLOCK_BATCH_BYTES (one more block of at most BATCHABLE_BLOCK_BYTES, plus frame headers).
 */
export const BATCH_MAX_BLOCKS = 512;
export const BATCH_MAX_BYTES = 4 * 1024 * 1024;

/** A small file's one block waiting for the next batch upload. */
interface Queued {
  absPath: string;
  item: UploadSnapshot;
  hash: string;
  onBytes: (delta: number) => void;
  resolve: () => void;
  reject: (error: unknown) => void;
  settled: boolean;
}

/**
 * Puts the blocks the server lacks, read straight from the file by byte range and hashed
 * again on the way: a block that no longer matches the snapshot means the file changed,
 * and the item must be hashed again rather than committed with stale blocks.
 */
export class Uploader {
  /** Blocks being uploaded right now, so two files sharing a block send it once. */
  private readonly inflight = new Map<string, Promise<void>>();
  /** A few more than the upload window holds at once. */
  private readonly buffers = new BlockBuffers(6);

  constructor(private readonly d: UploaderDeps) {}

  /** The subset of hashes the server does not hold (one request per 10,000). */
  async missing(hashes: readonly string[]): Promise<Set<string>> {
    const unique = [...new Set(hashes)];
    const out = new Set<string>();
    for (let i = 0; i < unique.length; i += MAX_MISSING_HASHES) {
      const chunk = unique.slice(i, i + MAX_MISSING_HASHES);
      const trackingId = randomUUID();
      const missing = await withRetries(this.d.attempt, 'blocks/missing', () =>
        this.d.remote.missingBlocks(chunk, { trackingId, run: this.d.run(), signal: this.d.attempt.signal }),
      );
      for (const h of missing) out.add(h);
    }
    return out;
  }

  /** Uploads the item's blocks that are in `missing`; onBytes gets deltas of bytes sent. */
  async upload(absPath: string, item: UploadSnapshot, missing: ReadonlySet<string>, onBytes: (delta: number) => void): Promise<void> {
    const wanted: Array<{ index: number; hash: string }> = [];
    const seen = new Set<string>();
    item.blocks.forEach((hash, index) => {
      if (missing.has(hash) && !seen.has(hash)) {
        seen.add(hash);
        wanted.push({ index, hash });
      }
    });
    // Bytes of blocks already on the server count as done.
    const skipped = item.blocks.reduce((sum, h, i) => (seen.has(h) ? sum : sum + blockLength(item.size, i)), 0);
    if (skipped > 0) onBytes(skipped);
    if (wanted.length === 0) return;
    if (item.size <= SMALL_FILE && wanted.length === 1) {
      const hash = wanted[0]!.hash;
      // Many small files go up together in one batch request; a server without the batch
      // extension (or a fake without putBlocks) gets one PUT per block.
      if (this.batching() && item.size <= BATCHABLE_BLOCK_BYTES) await this.shared(hash, () => this.enqueue(absPath, item, hash, onBytes));
      else await this.shared(hash, () => this.putBlock(() => Promise.resolve(readSmall(absPath, item)), item, 0, hash, onBytes));
      return;
    }

    let handle: FileHandle;
    try {
      handle = await open(absPath, 'r');
    } catch (error) {
      throw localError(item.path, error);
    }
    try {
      const results = await Promise.allSettled(
        wanted.map(({ index, hash }) => this.shared(hash, () => this.putBlock(() => readExact(handle, item, index, this.buffers.take(blockLength(item.size, index))), item, index, hash, onBytes))),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  private batchUnsupported = false;
  private group: Queued[] = [];
  private groupBytes = 0;
  private flushQueued = false;

  private batching(): boolean {
    return !this.batchUnsupported && typeof this.d.remote.putBlocks === 'function';
  }

  /**
   * Queues a small file's block for the next batch upload. A group goes out when it is full
   * or once the current turn of the event loop has queued what it had (a claimed chunk of
   * items all arrive in one turn).
   */
  private enqueue(absPath: string, item: UploadSnapshot, hash: string, onBytes: (delta: number) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.group.push({ absPath, item, hash, onBytes, resolve, reject, settled: false });
      this.groupBytes += item.size;
      if (this.group.length >= BATCH_MAX_BLOCKS || this.groupBytes >= BATCH_MAX_BYTES) {
        this.flushGroup();
      } else if (!this.flushQueued) {
        this.flushQueued = true;
        setImmediate(() => {
          this.flushQueued = false;
          this.flushGroup();
        });
      }
    });
  }

  private flushGroup(): void {
    if (this.group.length === 0) return;
    const entries = this.group;
    this.group = [];
    this.groupBytes = 0;
    void this.sendGroup(entries);
  }

  /** One batch upload: each block read and re-hashed in its slot; a changed file fails alone. */
  private async sendGroup(entries: Queued[]): Promise<void> {
    const { attempt, limiter, throttle, remote } = this.d;
    const settle = (e: Queued, error?: unknown) => {
      if (e.settled) return;
      e.settled = true;
      if (error === undefined) e.resolve();
      else e.reject(error);
    };
    const bytes = entries.reduce((sum, e) => sum + e.item.size, 0);
    const framedBytes = bytes + entries.length * BLOCK_FRAME_HEADER_BYTES;
    const trackingId = randomUUID();
    try {
      await withRetries(attempt, 'blocks/batch', () =>
        limiter.with(
          bytes,
          async () => {
            await attempt.gate();
            // Every file of the group is read straight into its frame of one pooled body: a
            // push of 10,000 small files would otherwise leave each file's buffer, and a copy
            // of each group, to the garbage collector.
            const pooled = this.buffers.take(framedBytes);
            try {
              const frames = new BlockFrameWriter(pooled);
              const sent: Queued[] = [];
              for (const e of entries) {
                if (e.settled) continue;
                try {
                  const data = readSmall(e.absPath, e.item, frames.slot(e.item.size));
                  if (sha256(data) !== e.hash) throw fileChanged(e.item.path, 'block 0 no longer matches');
                  frames.keep(e.hash, data.length);
                  sent.push(e);
                } catch (error) {
                  settle(e, error);
                }
              }
              if (sent.length === 0) return;
              const bucket = throttle();
              if (bucket) await bucket.take(frames.body().length, attempt.signal);
              await remote.putBlocks!(frames, { trackingId, run: this.d.run(), signal: attempt.signal });
              for (const e of sent) {
                e.onBytes(e.item.size);
                settle(e);
              }
            } finally {
              this.buffers.give(pooled);
            }
          },
          attempt.signal,
        ),
      );
    } catch (error) {
      if (attempt.signal.aborted) {
        for (const e of entries) settle(e, error);
        return;
      }
      if (isMissingEndpoint(error)) {
        // An older server: remember, and send these one by one.
        this.batchUnsupported = true;
        await Promise.all(
          entries
            .filter((e) => !e.settled)
            .map((e) =>
              this.putBlock(() => Promise.resolve(readSmall(e.absPath, e.item)), e.item, 0, e.hash, e.onBytes).then(
                () => settle(e),
                (err: unknown) => settle(e, err),
              ),
            ),
        );
        return;
      }
      const open = entries.filter((e) => !e.settled);
      const bad = error instanceof FerryError && error.code === 'hash_mismatch' ? badHashOf(error) : undefined;
      const culprit = bad === undefined ? undefined : open.find((e) => e.hash === bad);
      if (culprit && open.length > 1) {
        // The server names the one block it refused: fail that file, send the others again.
        settle(culprit, error);
        await this.sendGroup(open.filter((e) => e !== culprit));
        return;
      }
      if (!isRetryableFailure(error) && open.length > 1) {
        // Refused as a whole for a reason that may be one file's: halves, so one bad file
        // cannot fail the rest (a server outage still fails everything, after its retries).
        const half = Math.ceil(open.length / 2);
        await Promise.all([this.sendGroup(open.slice(0, half)), this.sendGroup(open.slice(half))]);
        return;
      }
      for (const e of open) settle(e, error);
    }
  }

  private shared(hash: string, send: () => Promise<void>): Promise<void> {
    const running = this.inflight.get(hash);
    if (running) return running;
    const p = send().finally(() => this.inflight.delete(hash));
    this.inflight.set(hash, p);
    return p;
  }

  private async putBlock(read: () => Promise<Buffer>, item: UploadSnapshot, index: number, hash: string, onBytes: (delta: number) => void): Promise<void> {
    const length = blockLength(item.size, index);
    const trackingId = randomUUID();
    const { attempt, limiter, throttle, remote } = this.d;
    await withRetries(attempt, 'blocks/put', () =>
      limiter.with(
        length,
        async () => {
          // A pause that came while this waited for its slot holds it here.
          await attempt.gate();
          const data = await read();
          let sent = 0;
          try {
            // Re-hash before sending: a mismatch means the file changed under us.
            if (sha256(data) !== hash) throw fileChanged(item.path, `block ${index} no longer matches`);
            const bucket = throttle();
            const counted = bucket !== null || data.length >= COUNTED_BLOCK_BYTES;
            const body = counted
              ? throttledBody(data, bucket, (n) => {
                  sent += n;
                  onBytes(n);
                }, attempt.signal, bucket ? undefined : 256 * 1024)
              : data;
            await remote.putBlock(hash, body, { size: length, trackingId, run: this.d.run(), signal: attempt.signal });
            if (sent < length) onBytes(length - sent);
          } catch (error) {
            if (sent > 0) onBytes(-sent);
            throw error;
          } finally {
            this.buffers.give(data);
          }
        },
        attempt.signal,
      ),
    );
  }
}

/**
 * Files up to this size are read with synchronous calls: a few microseconds from the page
 * cache, where thousands of concurrent promise reads queue on the libuv pool instead.
 */
export const SMALL_FILE = 256 * 1024;

/** The file's bytes, read into `into` (exactly item.size bytes) or a new buffer. */
function readSmall(absPath: string, item: UploadSnapshot, into?: Buffer): Buffer {
  let fd: number;
  try {
    fd = openSync(absPath, 'r');
  } catch (error) {
    throw localError(item.path, error);
  }
  try {
    const data = into ?? Buffer.allocUnsafe(item.size);
    let got = 0;
    while (got < item.size) {
      const n = readSync(fd, data, got, item.size - got, got);
      if (n === 0) break;
      got += n;
    }
    if (got < item.size) throw fileChanged(item.path, `shorter than the ${item.size} bytes hashed`);
    return data;
  } catch (error) {
    throw error instanceof FerryError ? error : localError(item.path, error);
  } finally {
    closeSync(fd);
  }
}

/** The block a 422 hash_mismatch names (on the error or the one it wraps). */
function badHashOf(error: FerryError): string | undefined {
  for (let e: unknown = error; e instanceof FerryError; e = e.cause) {
    const hash = e.details?.hash;
    if (typeof hash === 'string') return hash;
  }
  return undefined;
}

/** Retries were spent on a retryable error (an outage, not something one file did). */
function isRetryableFailure(error: unknown): boolean {
  const give = giveUpOf(error);
  return give !== undefined && give.verdict.action !== 'fail';
}

/** A 404 not_found on the batch endpoint: the server predates the extension. */
function isMissingEndpoint(error: unknown): boolean {
  const cause = error instanceof FerryError && error.code !== 'not_found' ? (error.cause as unknown) : error;
  return cause instanceof FerryError && cause.code === 'not_found' && cause.status === 404;
}

export function blockLength(size: number, index: number): number {
  return Math.max(0, Math.min(BLOCK_SIZE, size - index * BLOCK_SIZE));
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Fills `data` from the block at `index`. */
async function readExact(handle: FileHandle, item: UploadSnapshot, index: number, data: Buffer): Promise<Buffer> {
  const length = data.length;
  let got = 0;
  try {
    while (got < length) {
      const { bytesRead } = await handle.read(data, got, length - got, index * BLOCK_SIZE + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
  } catch (error) {
    throw localError(item.path, error);
  }
  if (got < length) throw fileChanged(item.path, `shorter than the ${item.size} bytes hashed`);
  return data;
}

/** A vanished file, or a folder now, is a change (re-queue); anything else local is the file's own problem. */
export function localError(path: string, error: unknown): FerryError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return fileChanged(path, 'it is gone');
  if (code === 'EISDIR') return fileChanged(path, 'it is a folder now');
  return new FerryError('local_unreadable', `Cannot read ${path}: ${(error as Error).message}`, { retryable: false, cause: error });
}

// ---- committer ---------------------------------------------------------------------------------

/** One queue item generation as it goes into a batch. */
export interface CommitEntry {
  id: number;
  generation: number;
  op: 'upsert' | 'delete';
  /** A directory upsert carries no content (size 0, no blocks). */
  kind: 'file' | 'dir';
  path: string;
  size: number;
  mtimeMs: number;
  blocks: string[];
  baseRevision: string | null;
  /** Sent as a move of this path to `path` (docs/conflict-rules.md, "Pushing a move"). */
  moveFrom?: string;
}

export interface CommitOptions {
  /** Batches of at least this many operations go async from the start. */
  asyncThreshold: number;
  pollMinMs: number;
  pollMaxMs: number;
}

export interface CommitOutcome {
  results: BatchResults;
  /** The persisted async task these results came from: remove it with the results applied. */
  taskId?: string;
}

export interface CommitterDeps {
  remote: PushRemote;
  tasks: TaskRepo;
  attempt: AttemptContext;
  options: () => CommitOptions;
  run: () => string;
  log: Logger;
  /**
   * Holds a commit slot around each try (a submission, or the polling of a task) but not
   * around a backoff: a batch waiting to retry never keeps the others from committing.
   */
  slot?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** The operation key names the exact queue generation and op, so results map back after a restart. */
export function opKey(e: Pick<CommitEntry, 'id' | 'generation' | 'op'>): string {
  return `${e.id}.${e.generation}.${e.op === 'upsert' ? 'u' : 'd'}`;
}

export function parseOpKey(key: string): { id: number; generation: number; op: 'upsert' | 'delete' } | undefined {
  const m = /^(\d+)\.(\d+)\.([ud])$/.exec(key);
  if (!m) return undefined;
  return { id: Number(m[1]), generation: Number(m[2]), op: m[3] === 'u' ? 'upsert' : 'delete' };
}

export function toOperation(e: CommitEntry): OperationInput {
  const key = opKey(e);
  // A move goes first, even on a delete's generation that carries it (P5 in flight, then a kill).
  if (e.moveFrom !== undefined && e.baseRevision !== null) return { key, action: 'move', from: e.moveFrom, path: e.path, kind: e.kind, baseRevision: e.baseRevision };
  if (e.op === 'delete') return { key, action: 'delete', path: e.path, baseRevision: e.baseRevision };
  if (e.kind === 'dir') return { key, action: 'upsert', kind: 'dir', path: e.path, mtime: e.mtimeMs, baseRevision: e.baseRevision };
  return { key, action: 'upsert', path: e.path, size: e.size, mtime: e.mtimeMs, blocks: e.blocks, baseRevision: e.baseRevision };
}

const isTimeout = (error: unknown): boolean => error instanceof FerryError && (error.status === 504 || error.code === 'timeout');
/** Task failures a resubmission with the same tracking id runs again on the server. */
const RERUNNABLE = new Set(['path_locked', 'internal']);
/** The record of a batch sent before the server names its task (docs/conflict-rules.md, "Uploads in flight"). */
const SENT_PREFIX = 'unanswered:';

/** One commit batch as it is sent, and sent again, under one tracking id. */
interface SentBatch {
  folderId: string;
  remoteFolderId: string;
  trackingId: string;
  operations: OperationInput[];
  items: TaskItem[];
}

/**
 * Submits one batch as a keyed sync request: sync mode when small, async (task + polling)
 * when large or after a 504, always under one tracking id so nothing is applied twice.
 * The batch is recorded, with the operations it sends, before it is sent; the record goes with
 * its answer, or names the server's task once it is accepted as one. While recorded, the pull
 * holds its paths (O3).
 */
export class Committer {
  constructor(private readonly d: CommitterDeps) {}

  /** hooks see every backoff of this batch's request (in place, same body, same tracking id). */
  async commit(folderId: string, remoteFolderId: string, entries: readonly CommitEntry[], hooks: RetryHooks = {}): Promise<CommitOutcome> {
    const batch: SentBatch = {
      folderId,
      remoteFolderId,
      trackingId: randomUUID(),
      operations: entries.map(toOperation),
      items: entries.map((e): TaskItem => ({ opKey: opKey(e), queueId: e.id, generation: e.generation, path: e.path })),
    };
    const mode = batch.operations.length >= this.d.options().asyncThreshold ? 'async' : 'sync';
    return this.send(batch, mode, this.recordSent(batch), hooks);
  }

  /**
   * A batch recorded before a restart: sent again under its tracking id (the server answers one
   * it applied from its tracking-id store), or, once the server named its task, polled.
   */
  async resume(task: AsyncTask, remoteFolderId: string | undefined): Promise<CommitOutcome> {
    const { taskId, trackingId, folderId, items, operations } = task;
    this.d.log.info('resuming a batch recorded before the restart', { taskId, trackingId, operations: items.length });
    // A record from before operations were kept is polled: the server names no such task, and its items queue again.
    if (!operations || remoteFolderId === undefined) return { results: await this.poll(taskId, {}), taskId };
    const batch: SentBatch = { folderId, remoteFolderId, trackingId, operations, items };
    if (taskId.startsWith(SENT_PREFIX)) return this.send(batch, 'async', taskId, {});
    return { results: await this.poll(taskId, {}, () => this.resubmit(batch, {})), taskId };
  }

  /** The record before the first send; none when the disk has no room for it (the batch goes anyway). */
  private recordSent(batch: SentBatch): string | undefined {
    const taskId = `${SENT_PREFIX}${batch.trackingId}`;
    const added = this.onDisk(() => this.d.tasks.add({ taskId, folderId: batch.folderId, trackingId: batch.trackingId, items: batch.items, operations: batch.operations }));
    if (!added) this.d.log.warn('no room to record a batch before sending it; it goes unrecorded', { trackingId: batch.trackingId, operations: batch.items.length });
    return added ? taskId : undefined;
  }

  /**
   * The record under the task the server named. On a full disk the record sent stays: sent again
   * after a restart, its tracking id is answered with that task.
   */
  private nameRecord(recorded: string | undefined, task: Omit<AsyncTask, 'createdAt'>): string | undefined {
    if (this.d.tasks.get(task.taskId)) {
      if (recorded) this.forget(recorded);
      return task.taskId;
    }
    return this.onDisk(() => (recorded ? this.d.tasks.replace(recorded, task) : this.d.tasks.add(task))) ? task.taskId : recorded;
  }

  /** Drops a record whose batch failed for good; on a full disk it stays, and is sent again after a restart. */
  private forget(record: string): void {
    if (!this.onDisk(() => this.d.tasks.remove(record))) this.d.log.warn('no room to drop the record of a failed batch; it is sent again after a restart', { taskId: record });
  }

  /** Runs a record's write; false when the disk has no room for it. */
  private onDisk(write: () => void): boolean {
    try {
      write();
      return true;
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      return false;
    }
  }

  private async send(batch: SentBatch, mode: 'sync' | 'async', recorded: string | undefined, hooks: RetryHooks): Promise<CommitOutcome> {
    const { attempt, log } = this.d;
    const { trackingId, operations } = batch;
    // Not answered for good (a refusal, retries spent): the items go back to the queue, and
    // nothing is held for them. Stopped: the record stays, and the batch is sent again after the restart.
    const failed = (record: string | undefined, error: unknown): never => {
      if (record && !attempt.signal.aborted) this.forget(record);
      throw error;
    };
    let reply;
    try {
      reply = await withRetries(
        attempt,
        'sync',
        () =>
          this.slot(async () => {
            try {
              return await this.submit(batch, mode);
            } catch (error) {
              if (mode !== 'sync' || !isTimeout(error)) throw error;
              // Over the server's sync budget, or a gateway's 504 after the server applied it:
              // asked for again at once, same tracking id, as a task (and so from now on).
              log.info('sync batch timed out; resubmitting in async mode', { trackingId, operations: operations.length });
              mode = 'async';
              return await this.submit(batch, mode);
            }
          }),
        hooks,
      );
    } catch (error) {
      return failed(recorded, error);
    }
    if (reply.status === 'Completed' && 'results' in reply) return { results: reply.results, ...(recorded ? { taskId: recorded } : {}) };

    const { taskId } = reply;
    const record = this.nameRecord(recorded, { taskId, folderId: batch.folderId, trackingId, items: batch.items, operations });
    log.info('async task accepted', { taskId, trackingId, operations: operations.length });
    try {
      return { results: await this.poll(taskId, hooks, () => this.resubmit(batch, hooks)), ...(record ? { taskId: record } : {}) };
    } catch (error) {
      return failed(record, error);
    }
  }

  private submit(batch: SentBatch, mode: 'sync' | 'async') {
    return this.d.remote.submitBatch(batch.remoteFolderId, batch.operations, { mode, trackingId: batch.trackingId, run: this.d.run(), signal: this.d.attempt.signal });
  }

  /** A task that failed with a rerunnable code runs again on the server: same tracking id, same body. */
  private async resubmit(batch: SentBatch, hooks: RetryHooks): Promise<void> {
    await withRetries(this.d.attempt, 'sync', () => this.slot(() => this.submit(batch, 'async')), hooks);
  }

  private slot<T>(fn: () => Promise<T>): Promise<T> {
    return this.d.slot ? this.d.slot(fn) : fn();
  }

  private async poll(taskId: string, hooks: RetryHooks, resubmit?: () => Promise<void>): Promise<BatchResults> {
    const { attempt } = this.d;
    let reruns = 0;
    const trackingId = randomUUID();
    for (;;) {
      const outcome = await this.slot(() => this.untilSettled(taskId, trackingId));
      if ('results' in outcome) return outcome.results;
      const { code, message } = outcome;
      const rerunnable = RERUNNABLE.has(code);
      if (rerunnable && resubmit && retryAllowed(attempt, reruns, hooks)) {
        reruns++;
        // A rerun is a retry of the same request: visible to the hooks like any other.
        await backoff(attempt, 'task', reruns, { action: 'retry', code, message }, hooks);
        await resubmit();
        continue;
      }
      // The caller words how many retries were spent (it counts them per item).
      throw new FerryError(code, message, { retryable: rerunnable, details: { taskId, exhausted: resubmit !== undefined, reruns } });
    }
  }

  /** Polls until the task is Completed (its results) or Failed (its error). */
  private async untilSettled(taskId: string, trackingId: string): Promise<{ results: BatchResults } | { code: string; message: string }> {
    const { remote, attempt } = this.d;
    let delay = this.d.options().pollMinMs;
    for (;;) {
      await sleep(attempt.timers, delay, attempt.signal);
      delay = Math.min(delay * 2, this.d.options().pollMaxMs);
      const task = await withRetries(attempt, 'tasks/get', () => remote.getTask(taskId, { trackingId, run: this.d.run(), signal: attempt.signal }));
      if (task.status === 'Completed') return { results: task.results ?? {} };
      if (task.status === 'Failed') return { code: task.error?.code ?? 'internal', message: task.error?.message ?? 'The task failed on the server' };
    }
  }
}
