import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { FerryError } from '../protocol';
import type { Accounts } from './accounts';
import { checkBearer } from './http';

/**
 * Who is asking: the holder of the server token (one shared credential, reaching every folder
 * as before accounts existed), one user's paired device, which reaches that user's folders, or
 * nobody yet (the pairing request), which reaches nothing.
 */
export type Principal = { kind: 'server' } | { kind: 'device'; deviceId: string; userId: number; user: string } | { kind: 'anonymous' };

export const SERVER_PRINCIPAL: Principal = { kind: 'server' };

/** The token of an `Authorization: Bearer …` header, if it has one. */
export const bearerOf = (header: string | undefined): string | undefined => /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];

/**
 * The principal behind the request's bearer token; 401 `unauthorized` for a missing or
 * unknown one, 401 `device_revoked` for a device signed out with `ferry server revoke`.
 * With `failures`, an address that presented too many different unknown tokens is refused
 * with 429 `rate_limited` (Retry-After) before any token of it is checked, the right one too.
 */
export async function authenticate(req: IncomingMessage, serverToken: string, accounts: Accounts, failures?: FailureLimiter): Promise<Principal> {
  const address = req.socket.remoteAddress ?? 'unknown';
  failures?.check(address);
  if (checkBearer(req.headers.authorization, serverToken)) return SERVER_PRINCIPAL;
  const token = bearerOf(req.headers.authorization);
  const device = token === undefined ? undefined : await accounts.deviceByToken(token);
  if (!device) {
    // Only a token that was presented counts, once per distinct token: guessing takes new
    // tokens, while an agent retrying its one wrong token never locks its own address out.
    if (token !== undefined) failures?.failed(address, createHash('sha256').update(token).digest('hex'));
    throw new FerryError('unauthorized', 'Missing or invalid token', { status: 401 });
  }
  if (device.revokedAt !== null) throw deviceRevoked();
  return { kind: 'device', deviceId: device.id, userId: device.userId, user: device.user };
}

/** 401 for a device signed out with `ferry server revoke`: its agent says to pair it again. */
export const deviceRevoked = () => new FerryError('device_revoked', 'This device was signed out of the server: pair it again', { status: 401 });

/** Failed attempts allowed per client address in a window; beyond, 429 until the oldest ages out. */
export const PAIRING_FAILURE_LIMIT = 10;
export const PAIRING_FAILURE_WINDOW_MS = 60 * 1000;
/** Different wrong bearer tokens one address may present in the window (the same limits as pairing). */
export const AUTH_FAILURE_LIMIT = PAIRING_FAILURE_LIMIT;
export const AUTH_FAILURE_WINDOW_MS = PAIRING_FAILURE_WINDOW_MS;
const MAX_TRACKED_ADDRESSES = 10_000;

/**
 * Counts failed attempts per client address. Pairing codes have 80 bits and live 10 minutes,
 * device tokens 256 bits; the limit keeps a client from hammering the server and the log.
 * Kept in memory: a restart forgets it, which costs a guesser one window, no more.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, Array<{ at: number; key: string | undefined }>>();

  constructor(
    private readonly clock: () => number,
    private readonly limit = PAIRING_FAILURE_LIMIT,
    private readonly windowMs = PAIRING_FAILURE_WINDOW_MS,
  ) {}

  /** Throws 429 `rate_limited` (with Retry-After) while `address` has spent its failures. */
  check(address: string): void {
    const now = this.clock();
    const recent = (this.failures.get(address) ?? []).filter((f) => now - f.at < this.windowMs);
    if (recent.length === 0) this.failures.delete(address);
    else this.failures.set(address, recent);
    if (recent.length >= this.limit) {
      const retryAfterMs = this.windowMs - (now - (recent[0] as { at: number }).at);
      const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
      // How long, in the words too (a new-user try read "wait" and did not know for how long).
      throw new FerryError('rate_limited', `Too many failed attempts from this address: try again in ${seconds} s`, {
        status: 429,
        retryAfterSeconds: seconds,
      });
    }
  }

  /** One failure; with `key`, a failure with a key already counted in the window is not counted again. */
  failed(address: string, key?: string): void {
    const list = this.failures.get(address) ?? [];
    if (key !== undefined && list.some((f) => f.key === key)) return;
    list.push({ at: this.clock(), key });
    this.failures.set(address, list);
    if (this.failures.size > MAX_TRACKED_ADDRESSES) this.forgetOld();
  }

  /** Many addresses (a distributed guesser): drop those whose failures all aged out. */
  private forgetOld(): void {
    const now = this.clock();
    for (const [address, list] of this.failures) {
      if (list.every((f) => now - f.at >= this.windowMs)) this.failures.delete(address);
    }
  }
}
