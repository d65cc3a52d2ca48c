import { BLOCK_SIZE } from '../../../protocol';

/**
 * Reusable block-sized buffers for reading large blocks. A fresh 4 MiB buffer per block is
 * external memory V8 must collect: a 1 GiB upload spent about a second of CPU in the
 * garbage collector, on a machine where the agent and the server share two cores.
 *
 * A buffer goes back only once its request has settled. Should a socket still be writing
 * from it after an early error reply, the next block's bytes can only reach a request the
 * server has already answered, and the server checks every block against its hash.
 */
export class BlockBuffers {
  private readonly free: Buffer[] = [];

  constructor(private readonly keep: number) {}

  /** A buffer of exactly `length` bytes (contents undefined). */
  take(length: number): Buffer {
    if (length < POOLED_MIN) return Buffer.allocUnsafe(length);
    const whole = this.free.pop() ?? Buffer.allocUnsafeSlow(BLOCK_SIZE);
    return whole.subarray(0, length);
  }

  give(buffer: Buffer): void {
    if (buffer.length < POOLED_MIN || buffer.buffer.byteLength !== BLOCK_SIZE) return;
    if (this.free.length < this.keep) this.free.push(Buffer.from(buffer.buffer, 0, BLOCK_SIZE));
  }
}

/** Below this a plain allocation is cheap (and comes from Node's own small-buffer pool). */
const POOLED_MIN = 256 * 1024;
