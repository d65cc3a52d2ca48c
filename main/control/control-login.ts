import { randomBytes } from 'node:crypto';

/**
 * Single-use, short-lived login codes: the agent prints `http://127.0.0.1:PORT/#login=<code>`
 * and the page trades the code for the control token once. The token itself never appears
 * in a URL, a browser history entry or a log.
 */
export const LOGIN_CODE_TTL_MS = 10 * 60 * 1000;

/** Failed sign-ins allowed per window; beyond, every attempt is refused until the window frees. */
export const LOGIN_FAILURE_LIMIT = 10;
export const LOGIN_FAILURE_WINDOW_MS = 60 * 1000;

export type Redeemed = { ok: true } | { ok: false; limited: false } | { ok: false; limited: true; retryAfterMs: number; firstRefusal: boolean };

export class LoginCodes {
  private readonly expiries = new Map<string, number>();
  /** When each recent failed attempt happened (at most LOGIN_FAILURE_LIMIT kept). */
  private failures: number[] = [];
  private limitedSince: number | null = null;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs: number = LOGIN_CODE_TTL_MS,
  ) {}

  /**
   * A sign-in attempt: `consume` under a rate limit on failures. Codes are unguessable (192
   * bits); the limit keeps a page that hammers the endpoint from flooding the log and the
   * event loop. While limited, no code is even looked at.
   */
  redeem(code: string): Redeemed {
    const now = this.now();
    this.failures = this.failures.filter((t) => now - t < LOGIN_FAILURE_WINDOW_MS);
    if (this.failures.length >= LOGIN_FAILURE_LIMIT) {
      const firstRefusal = this.limitedSince === null;
      this.limitedSince ??= now;
      return { ok: false, limited: true, retryAfterMs: LOGIN_FAILURE_WINDOW_MS - (now - (this.failures[0] ?? now)), firstRefusal };
    }
    this.limitedSince = null;
    if (this.consume(code)) return { ok: true };
    this.failures.push(now);
    return { ok: false, limited: false };
  }

  create(): string {
    this.sweep();
    const code = randomBytes(24).toString('base64url');
    this.expiries.set(code, this.now() + this.ttlMs);
    return code;
  }

  /** True exactly once for a live code; an expired or reused code is refused. */
  consume(code: string): boolean {
    const expiry = this.expiries.get(code);
    if (expiry === undefined) return false;
    this.expiries.delete(code);
    return this.now() < expiry;
  }

  private sweep(): void {
    const now = this.now();
    for (const [code, expiry] of this.expiries) if (expiry <= now) this.expiries.delete(code);
  }
}
