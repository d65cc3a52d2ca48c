import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE } from '../../protocol';
import { BlockBuffers } from '../../main/engine/push/requests';

describe('BlockBuffers', () => {
  it('hands a returned block buffer out again instead of allocating a new one', () => {
    const pool = new BlockBuffers(2);
    const a = pool.take(BLOCK_SIZE);
    pool.give(a);
    const b = pool.take(BLOCK_SIZE - 10);
    expect(b.length).toBe(BLOCK_SIZE - 10);
    expect(b.buffer).toBe(a.buffer);
  });

  it('never hands the same buffer to two holders at once', () => {
    const pool = new BlockBuffers(4);
    const a = pool.take(BLOCK_SIZE);
    const b = pool.take(BLOCK_SIZE);
    expect(b.buffer).not.toBe(a.buffer);
  });

  it('keeps at most its limit of free buffers', () => {
    const pool = new BlockBuffers(1);
    const a = pool.take(BLOCK_SIZE);
    const b = pool.take(BLOCK_SIZE);
    pool.give(a);
    pool.give(b);
    const first = pool.take(BLOCK_SIZE);
    const second = pool.take(BLOCK_SIZE);
    expect(first.buffer).toBe(a.buffer);
    expect([a.buffer, b.buffer]).not.toContain(second.buffer);
  });

  it('leaves small reads to plain allocation (they are cheap and must not pin 4 MiB)', () => {
    const pool = new BlockBuffers(2);
    const small = pool.take(4096);
    expect(small.buffer.byteLength).toBeLessThan(BLOCK_SIZE);
    pool.give(small);
    expect(pool.take(BLOCK_SIZE).buffer).not.toBe(small.buffer);
  });
});
