import { asFerryError } from '../../../protocol/errors';
import { classify } from '../push/retry-policy';
import { backoffDelay, NO_JITTER } from '../../../shared/backoff';

/**
 * The link to the sync server as the user sees it: online, offline (cannot be reached), or
 * auth_failed (reached, but it refused the token). It follows every request the engine makes
 * (pushes, pulls, long polls, probes), so it turns as soon as requests start failing and
 * clears on the next one that gets through; while it is not online a probe with backoff
 * looks for the way back, so it recovers within seconds even when nothing else is sent.
 */
export type Link = { state: 'online' } | { state: 'offline' | 'auth_failed'; reason: string };

/** What the user reads when the server signed this device out (`ferry server revoke`). */
export const REVOKED_REASON =
  "This device was signed out of the sync server; pair it again with a new code from the server's admin ('ferry server pair --user NAME' there): Connect with a pairing code in Settings, or ferry agent --pair CODE";

/** What a failed request says about the link; null when it says nothing (a bad path, a 409…). */
export function linkProblemOf(error: unknown): Exclude<Link, { state: 'online' }> | null {
  const e = asFerryError(error);
  if (e.code === 'aborted') return null;
  if (e.code === 'device_revoked') return { state: 'auth_failed', reason: REVOKED_REASON };
  if (e.status === 401 || e.code === 'unauthorized') {
    // A paired device has no token to type: it pairs again (a new-user try: its server started afresh).
    return { state: 'auth_failed', reason: `The sync server refused the token (${e.code}): correct it in Settings, or pair this device again with a code from 'ferry server pair'` };
  }
  if (classify(error).action === 'offline') return { state: 'offline', reason: e.message };
  return null;
}

/** A failure below HTTP (no answer at all): the server is not reached, whatever the errno. */
function unreached(error: unknown): Exclude<Link, { state: 'online' }> | null {
  const e = asFerryError(error);
  return e.status === undefined && (e.code === 'network' || e.code === 'timeout') ? { state: 'offline', reason: e.message } : null;
}

/** Did the server answer this request with the token accepted? (A 404 or 409 still proves it.) */
function provesLink(error: unknown): boolean {
  const e = asFerryError(error);
  return e.status !== undefined && e.status !== 401 && e.status < 500;
}

export interface LinkTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ConnectionWatchOptions {
  /** One cheap authenticated request (its outcome reaches the watch as the client's observer). */
  probe: () => Promise<unknown>;
  onChange: (link: Link) => void;
  timers?: LinkTimers;
  /** Probe backoff while not online: doubling from baseMs, capped at capMs. */
  baseMs?: number;
  capMs?: number;
}

const systemTimers: LinkTimers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class ConnectionWatch {
  private link: Link = { state: 'online' };
  /** When the link last left online (performance.now()): answers to requests sent before say nothing of it. */
  private wentDownAt = -Infinity;
  private probes = 0;
  private timer: unknown = null;
  private stopped = false;
  private readonly timers: LinkTimers;

  constructor(private readonly o: ConnectionWatchOptions) {
    this.timers = o.timers ?? systemTimers;
  }

  get current(): Link {
    return this.link;
  }

  /**
   * A request got an answer from the server with the token accepted. One sent before the link
   * went down proves nothing: a long poll sent before a revoke is answered 200 once it ends (a
   * new-user try read "accepts this computer again" while it was still signed out).
   */
  answered(sentAt: number = performance.now()): void {
    if (this.link.state === 'online' || sentAt <= this.wentDownAt) return;
    this.cancelProbe();
    this.probes = 0;
    this.set({ state: 'online' });
  }

  /** A request failed: offline and refused tokens change the link; other failures do not. */
  failed(error: unknown, sentAt: number = performance.now()): void {
    if (provesLink(error)) return this.answered(sentAt);
    // While it is down, the newest failure to reach the server is the reason (a new-user try read
    // "unreachable (ECONNREFUSED)" for a minute after the server was back speaking plain HTTP).
    // Not while signed out: that answer stands until the server takes this device again.
    const problem = linkProblemOf(error) ?? (this.link.state === 'offline' ? unreached(error) : null);
    if (!problem) return;
    if (this.link.state !== problem.state || this.link.reason !== problem.reason) this.set(problem);
    this.scheduleProbe();
  }

  /** Probes at once (Resume, Sync now): the state is right again after one round trip. */
  async checkNow(): Promise<void> {
    if (this.stopped) return;
    this.cancelProbe();
    await this.o.probe().catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    this.cancelProbe();
  }

  private set(link: Link): void {
    if (link.state !== 'online' && this.link.state === 'online') this.wentDownAt = performance.now();
    this.link = link;
    this.o.onChange(link);
  }

  private scheduleProbe(): void {
    if (this.stopped || this.timer !== null) return;
    const delay = backoffDelay(++this.probes, { baseMs: this.o.baseMs ?? 1000, capMs: this.o.capMs ?? 10_000, jitter: NO_JITTER }, Math.random);
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      if (this.stopped || this.link.state === 'online') return;
      void this.o.probe().then(
        () => undefined,
        () => this.scheduleProbe(),
      );
    }, delay);
  }

  private cancelProbe(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }
}
