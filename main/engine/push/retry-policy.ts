import { isFerryError } from '../../../protocol/errors';
import { FULL_JITTER, backoffDelay } from '../../../shared/backoff';
import { DISK_FULL } from '../disk-full';

/**
 * What to do after a failed request: wait for the network (offline), try again after a
 * backoff (retry), or give up on the items at once (fail). Pure: random and time are
 * injected by the caller.
 */
export type Verdict =
  | { action: 'offline'; code: string; message: string }
  | { action: 'retry'; code: string; message: string; retryAfterMs?: number }
  | { action: 'fail'; code: string; message: string };

export interface RetryOptions {
  /** Retries after the first try; the try after the last retry fails the item. */
  retryLimit: number;
  baseMs: number;
  capMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { retryLimit: 3, baseMs: 1000, capMs: 5 * 60 * 1000 };

/** Errno codes that mean "the server cannot be reached at all", not "this request broke". */
const OFFLINE_ERRNOS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL', 'ENETDOWN']);
const NETWORK_ERRNOS = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ESOCKETTIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);
/** Local file problems that no retry fixes (the file is unreadable, or not a file). */
const LOCAL_PERMANENT = new Set(['EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EINVAL']);
const RETRYABLE_CODES = new Set(['path_locked', 'rate_limited', 'unavailable', 'timeout', 'internal', 'network', 'insufficient_storage']);
/**
 * An upload answered `not_found` while the server has not made its folder yet: it waits for the
 * folder (made when the server answers), never failed for it (docs/architecture.md, "Start and stop").
 */
export const FOLDER_NOT_MADE = 'folder_not_made';
/**
 * Waits that are a disk's state, not the item's: an item refused with a full server disk
 * (507) waits in the queue and is tried again after its Retry-After for as long as that lasts,
 * never failed for it; so does one whose outcome this device's full disk kept from being written,
 * and one whose folder the server has not made yet.
 */
const WAIT_CODES = new Set(['insufficient_storage', DISK_FULL, FOLDER_NOT_MADE]);

/** True when an item that failed with this code waits in the queue without a retry limit. */
export const isServerWait = (code: string): boolean => WAIT_CODES.has(code);
const LOCAL_CODES = new Set(['file_changed', 'local_unreadable']);
const PERMANENT_STATUSES = new Set([400, 401, 403, 404, 405, 409, 410, 413, 422]);

/** errno codes anywhere along the cause chain (got and undici wrap the socket error). */
function errnoCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 6; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    const details = (current as { details?: { errno?: unknown } }).details;
    if (typeof details?.errno === 'string') codes.push(details.errno);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function classify(error: unknown): Verdict {
  const codes = errnoCodes(error);
  const message = messageOf(error);
  const top = codes[0] ?? 'internal';
  if (top === 'offline' || codes.some((c) => OFFLINE_ERRNOS.has(c))) return { action: 'offline', code: 'offline', message };
  // A certificate not trusted is no fault of the item: it waits, like offline, for the CA to be given.
  if (top === 'tls_untrusted') return { action: 'offline', code: top, message };
  if (isFerryError(error)) {
    const status = error.status;
    // A refused token (wrong, or the device was revoked) is no fault of the item: it waits,
    // like offline, until the link is back with a working token, and keeps its place.
    if (status === 401) return { action: 'offline', code: error.code, message };
    const retryAfterMs = error.retryAfterSeconds !== undefined ? Math.max(0, error.retryAfterSeconds * 1000) : undefined;
    const retry = (): Verdict => ({ action: 'retry', code: error.code, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    // Local verdicts (the file changed, or cannot be read) are never retried in place.
    if (error.code === 'aborted' || LOCAL_CODES.has(error.code)) return { action: 'fail', code: error.code, message };
    if (RETRYABLE_CODES.has(error.code) || codes.some((c) => NETWORK_ERRNOS.has(c))) return retry();
    if (status !== undefined) {
      if (status === 408 || status === 423 || status === 429 || status >= 500) return retry();
      if (PERMANENT_STATUSES.has(status) || (status >= 400 && status < 500)) return { action: 'fail', code: error.code, message };
    }
    return error.retryable ? retry() : { action: 'fail', code: error.code, message };
  }
  if (codes.some((c) => LOCAL_PERMANENT.has(c))) return { action: 'fail', code: 'local_unreadable', message };
  if (codes.some((c) => NETWORK_ERRNOS.has(c))) return { action: 'retry', code: 'network', message };
  return { action: 'fail', code: top, message };
}

/**
 * Delay before retry number `retry` (1 = the first retry): full jitter over an exponential
 * ceiling from baseMs, capped at capMs (shared/backoff.ts). A server's Retry-After wins.
 */
export function backoffMs(retry: number, options: Pick<RetryOptions, 'baseMs' | 'capMs'>, random: () => number, retryAfterMs?: number): number {
  return backoffDelay(retry, { baseMs: options.baseMs, capMs: options.capMs, jitter: FULL_JITTER }, random, retryAfterMs);
}

/** True when `retriesDone` retries already happened and another one is allowed. */
export function mayRetry(retriesDone: number, options: Pick<RetryOptions, 'retryLimit'>): boolean {
  return retriesDone < options.retryLimit;
}
