import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BLOCK_SIZE } from '../../protocol/constants';
import { contentHashOf, hashFile } from '../../main/engine/hashing';
import { makeTempDir } from '../helpers/local-temp';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('block hashing', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeEach(() => (tmp = makeTempDir()));
  afterEach(() => tmp.cleanup());

  it('hashes each block of at most blockSize bytes', async () => {
    const data = Buffer.alloc(2500);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    const file = path.join(tmp.dir, 'f');
    writeFileSync(file, data);
    const h = await hashFile(file, 1000);
    expect(h.size).toBe(2500);
    expect(h.blocks).toEqual([sha(data.subarray(0, 1000)), sha(data.subarray(1000, 2000)), sha(data.subarray(2000))]);
    expect(h.contentHash).toBe(contentHashOf(h.blocks));
    expect(h.stat.size).toBe(2500);
  });

  it('uses 4 MiB blocks by default, and an exact multiple has no empty tail block', async () => {
    expect(BLOCK_SIZE).toBe(4 * 1024 * 1024);
    const data = Buffer.alloc(BLOCK_SIZE * 2, 7);
    const file = path.join(tmp.dir, 'big');
    writeFileSync(file, data);
    const h = await hashFile(file);
    expect(h.blocks).toEqual([sha(data.subarray(0, BLOCK_SIZE)), sha(data.subarray(BLOCK_SIZE))]);
  });

  it('an empty file has no blocks; equal content gives equal hashes', async () => {
    writeFileSync(path.join(tmp.dir, 'empty'), '');
    writeFileSync(path.join(tmp.dir, 'a'), 'same');
    writeFileSync(path.join(tmp.dir, 'b'), 'same');
    expect((await hashFile(path.join(tmp.dir, 'empty'))).blocks).toEqual([]);
    const [a, b] = await Promise.all([hashFile(path.join(tmp.dir, 'a')), hashFile(path.join(tmp.dir, 'b'))]);
    expect(a.contentHash).toBe(b.contentHash);
    expect(a.blocks).toEqual([sha(Buffer.from('same'))]);
  });
});
