import { z } from 'zod';

/**
 * Pairing: a device trades a one-time code (from `ferry server pair --user NAME`) for its own
 * device token. `POST /v1/pair` is the one request sent without a bearer token.
 */
/** Crockford base32 without I, L, O, U: a code read aloud or typed survives 0/O and 1/l mix-ups. */
export const PAIRING_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Upper case, without separators, with the look-alikes read as Crockford does. */
export function normalizePairingCode(code: string): string {
  return code
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
}

/** A code as `ferry server pair` makes them: 16 characters of the alphabet, once normalized. */
export function isPairingCodeShape(code: string): boolean {
  return /^[0-9A-HJKMNP-TV-Z]{16}$/.test(normalizePairingCode(code));
}

export const PairRequest = z.strictObject({
  code: z.string().min(1).max(64),
  /** How the device calls itself in `ferry server devices` (printable, at most 64 characters). */
  deviceName: z
    .string()
    .regex(/^[\x20-\x7e]{1,64}$/, 'must be 1-64 printable ASCII characters')
    .optional(),
});
export type PairRequest = z.infer<typeof PairRequest>;

export const PairReply = z.object({
  deviceId: z.string(),
  /** The device's bearer token: sent this once and never again (the server keeps a hash). */
  token: z.string(),
  user: z.string(),
  /**
   * The device this pairing replaced, now revoked: a device pairing again sends its old token
   * as its bearer token, and when that token is a live device of the same user, it ends.
   */
  replacedDeviceId: z.string().optional(),
});
export type PairReply = z.infer<typeof PairReply>;
