import { randomBytes } from 'node:crypto';

/**
 * Single-use, short-lived login codes: the agent prints `http://127.0.0.1:PORT/#login=<code>`
 * and the page trades the code for the control token once. The token itself never appears
 * in a URL, a browser history entry or a log.
 */
export const LOGIN_CODE_TTL_MS = 10 * 60 * 1000;

export class LoginCodes {
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs: number = LOGIN_CODE_TTL_MS,
  ) {}

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
