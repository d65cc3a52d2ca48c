import { z } from 'zod';
import { BLOCK_SIZE } from './constants';
import { Sha256Hex, isSha256Hex } from './hashes';

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

/*
 * Batched block transfer: a compatible v1 extension. Many small blocks travel in one request
 * (`POST /v1/blocks/batch`) or one reply (`POST /v1/blocks/fetch`) as a framed binary body:
 *
 *   frame = hash (64 ASCII lowercase hex) | length (uint32, big-endian) | length bytes
 *
 * In a fetch reply, length ABSENT_BLOCK (0xFFFFFFFF, no bytes follow) says the server does
 * not hold that block. Frames answer the requested hashes in order; a reply may stop early
 * (at MAX_BLOCK_BATCH_BYTES), and the client asks again for the hashes it did not get.
 * Servers without the extension answer 404 on these paths; clients then use PUT/GET per block.
 */

/** Content-Type of a framed block body. */
export const BLOCK_FRAMES_TYPE = 'application/vnd.ferry.blocks';
/** Bytes before a frame's data: 64 hex characters and a uint32 length. */
export const BLOCK_FRAME_HEADER_BYTES = 68;
/** Length marking a block the server does not hold (fetch replies only). */
export const ABSENT_BLOCK = 0xffff_ffff;
/** Largest framed body a batch upload may send, and the most data a fetch reply carries. */
export const MAX_BLOCK_BATCH_BYTES = 16 * 1024 * 1024;
/** At most this many blocks per batch upload and hashes per fetch request. */
export const MAX_BLOCK_BATCH_COUNT = 4096;
/** Blocks up to this size are worth batching; bigger ones stream with PUT / GET. */
export const BATCHABLE_BLOCK_BYTES = 256 * 1024;

export interface BlockFrame {
  hash: string;
  /** null: the server does not hold the block (fetch replies only). */
  data: Buffer | null;
}

/**
 * A framed body written in place: a block's bytes go straight into their frame (`slot`), and
 * the frame is then kept (`keep`) or left to be written over. Sending `body()` copies nothing,
 * so a batch of small files costs one buffer, not one per file and then a copy of them all.
 */
export class BlockFrameWriter {
  private at = 0;
  private readonly kept: string[] = [];

  /** `buffer` must hold every frame: BLOCK_FRAME_HEADER_BYTES plus the data, per block. */
  constructor(private readonly buffer: Buffer) {}

  /** Where the next frame's `length` data bytes go. */
  slot(length: number): Buffer {
    const start = this.at + BLOCK_FRAME_HEADER_BYTES;
    if (start + length > this.buffer.length) throw new RangeError(`No room for a ${length}-byte frame`);
    return this.buffer.subarray(start, start + length);
  }

  /** Keeps the frame whose data was written into `slot(length)`; null keeps an ABSENT_BLOCK frame. */
  keep(hash: string, length: number | null): void {
    if (!isSha256Hex(hash)) throw new Error(`Not a SHA-256 block address: ${String(hash).slice(0, 80)}`);
    this.buffer.write(hash, this.at, 'latin1');
    this.buffer.writeUInt32BE(length === null ? ABSENT_BLOCK : length, this.at + 64);
    this.at += BLOCK_FRAME_HEADER_BYTES + (length ?? 0);
    this.kept.push(hash);
  }

  /** The kept frames' addresses, in order. */
  get hashes(): readonly string[] {
    return this.kept;
  }

  /** The frames kept so far, as one body (a view of the buffer). */
  body(): Buffer {
    return this.buffer.subarray(0, this.at);
  }
}

/** Encodes frames in order (data null encodes ABSENT_BLOCK). */
export function encodeBlockFrames(frames: ReadonlyArray<{ hash: string; data: Uint8Array | null }>): Buffer {
  let total = 0;
  for (const f of frames) total += BLOCK_FRAME_HEADER_BYTES + (f.data?.length ?? 0);
  const out = new BlockFrameWriter(Buffer.allocUnsafe(total));
  for (const f of frames) {
    if (f.data !== null) out.slot(f.data.length).set(f.data);
    out.keep(f.hash, f.data?.length ?? null);
  }
  return out.body();
}

export type DecodedFrames = { ok: true; frames: BlockFrame[] } | { ok: false; reason: string };

/**
 * Splits a framed body. Checks the framing only (hex addresses, lengths within BLOCK_SIZE,
 * nothing cut off); whether each block's bytes hash to its address is for the caller to check.
 * Data buffers are views into `body`.
 */
export function decodeBlockFrames(body: Buffer, options: { allowAbsent: boolean; maxFrames: number }): DecodedFrames {
  const frames: BlockFrame[] = [];
  let at = 0;
  while (at < body.length) {
    if (frames.length >= options.maxFrames) return { ok: false, reason: `more than ${options.maxFrames} blocks` };
    if (body.length - at < BLOCK_FRAME_HEADER_BYTES) return { ok: false, reason: `frame ${frames.length} is cut off in its header` };
    const hash = body.toString('latin1', at, at + 64);
    if (!isSha256Hex(hash)) return { ok: false, reason: `frame ${frames.length} does not start with a SHA-256 as 64 lowercase hex characters` };
    const length = body.readUInt32BE(at + 64);
    at += BLOCK_FRAME_HEADER_BYTES;
    if (length === ABSENT_BLOCK) {
      if (!options.allowAbsent) return { ok: false, reason: `frame ${frames.length} (${hash}) has no data` };
      frames.push({ hash, data: null });
      continue;
    }
    if (length > BLOCK_SIZE) return { ok: false, reason: `block ${hash} claims ${length} bytes, more than ${BLOCK_SIZE}` };
    if (body.length - at < length) return { ok: false, reason: `block ${hash} is cut off: ${body.length - at} of ${length} bytes` };
    frames.push({ hash, data: body.subarray(at, at + length) });
    at += length;
  }
  return { ok: true, frames };
}

/** `POST /v1/blocks/batch` answer: one entry per distinct block, in the order sent. */
export const PutBlocksReply = z.object({ blocks: z.array(PutBlockReply) });
export type PutBlocksReply = z.infer<typeof PutBlocksReply>;

/** `POST /v1/blocks/fetch` body; the reply is framed (BLOCK_FRAMES_TYPE). */
export const FetchBlocksRequest = z.strictObject({
  hashes: z.array(Sha256Hex).min(1).max(MAX_BLOCK_BATCH_COUNT),
});
export type FetchBlocksRequest = z.infer<typeof FetchBlocksRequest>;
