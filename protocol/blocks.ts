import { z } from 'zod';
import { Sha256Hex } from './hashes';

/** At most this many hashes per `POST /v1/blocks/missing`; the client splits longer lists. */
export const MAX_MISSING_HASHES = 10_000;

export const MissingBlocksRequest = z.strictObject({
  hashes: z.array(Sha256Hex).max(MAX_MISSING_HASHES),
});
export type MissingBlocksRequest = z.infer<typeof MissingBlocksRequest>;

export const MissingBlocksReply = z.object({ missing: z.array(Sha256Hex) });
export type MissingBlocksReply = z.infer<typeof MissingBlocksReply>;

/** `PUT /v1/blocks/{sha256}`: `stored` is false when the server already had the block. */
export const PutBlockReply = z.object({
  hash: Sha256Hex,
  size: z.number().int().min(0),
  stored: z.boolean(),
});
export type PutBlockReply = z.infer<typeof PutBlockReply>;
