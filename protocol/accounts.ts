import { z } from 'zod';

/**
 * Pairing: a device trades a one-time code (from `ferry server pair --user NAME`) for its own
 * device token. `POST /v1/pair` is the one request sent without a bearer token.
 */
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
