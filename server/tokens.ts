import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { FerryError } from '../protocol';

/**
 * A position in a folder's changes feed. `after`: the feed continues with seq > after.
 * `since`: tombstones are only shown when newer than this (a full listing starts with
 * since = the folder's seq at that moment; an incremental feed has since = the token's seq).
 */
export interface FeedPosition {
  folderId: string;
  after: number;
  since: number;
  issuedAt: number;
}

/** 'history' and 'deleted' page those listings (server/history.ts): `a` is the seq to continue below. */
type Kind = 'token' | 'cursor' | 'history' | 'deleted';

const Payload = z.strictObject({
  f: z.string(),
  a: z.number().int().min(0),
  s: z.number().int().min(0),
  t: z.number().int().min(0),
});

/**
 * Sync tokens and page cursors: base64url JSON plus an HMAC over it with the server's
 * secret. The kind is part of the MAC, so a cursor never passes as a token or vice versa.
 */
export class FeedTokens {
  constructor(private readonly secret: string) {}

  issue(kind: Kind, pos: FeedPosition): string {
    const payload = Buffer.from(JSON.stringify({ f: pos.folderId, a: pos.after, s: pos.since, t: pos.issuedAt })).toString('base64url');
    return `${payload}.${this.mac(kind, payload)}`;
  }

  /** The position a token or cursor stands for; a garbled, forged or foreign one is 400 invalid_token. */
  verify(kind: Kind, value: string, folderId: string): FeedPosition {
    const invalid = (why: string) => new FerryError('invalid_token', `Invalid ${kind === 'token' ? 'sync token' : 'cursor'}: ${why}`, { status: 400 });
    const parts = value.split('.');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw invalid('malformed');
    const [payload, mac] = parts as [string, string];
    const expected = Buffer.from(this.mac(kind, payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('signature does not match');
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw invalid('malformed');
    }
    const parsed = Payload.safeParse(decoded);
    if (!parsed.success) throw invalid('malformed');
    const p = parsed.data;
    if (p.f !== folderId) throw invalid('issued for another folder');
    return { folderId: p.f, after: p.a, since: p.s, issuedAt: p.t };
  }

  private mac(kind: Kind, payload: string): string {
    return createHmac('sha256', this.secret).update(`${kind}.${payload}`).digest('base64url');
  }
}
