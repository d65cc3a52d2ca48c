import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockFrameWriter, FerryError } from '../../protocol';
import { SyncApiClient } from '../../main/remote';
import { batchPosts, blockPuts, pushRig, withoutBlockBatches, type PushRig } from './push-harness';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('pusher: batch uploads of small blocks under faults', () => {
  let t: PushRig | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('retries a failed batch upload and commits every file once', async () => {
    const rig = await pushRig();
    t = rig;
    for (let i = 0; i < 5; i++) await rig.write(`s${i}.txt`, `small ${i}`);
    rig.proxy.add({ name: '503-once', method: 'POST', path: '/v1/blocks/batch', times: 1, action: { kind: 'status', status: 503, retryAfter: 0 } });
    for (let i = 0; i < 5; i++) await rig.enqueue(`s${i}.txt`);
    rig.pusher.kick();
    for (let i = 0; i < 5; i++) await rig.waitState(`s${i}.txt`, 'done');
    expect(rig.proxy.fired('503-once')).toBe(1);
    expect(rig.store.queue.countsByState().failed).toBe(0);
    expect(batchPosts(rig).length).toBeGreaterThanOrEqual(2);
    expect(blockPuts(rig)).toHaveLength(0);
  });

  it('a batch refused as a whole is split: only the file it was about fails', async () => {
    // The server refuses, permanently, any batch that holds c's block (patched before the
    // pusher is built, so whatever wraps the client sees it).
    const real = SyncApiClient.prototype.putBlocks;
    const refused: number[] = [];
    SyncApiClient.prototype.putBlocks = async function (this: SyncApiClient, blocks, options) {
      const hashes = blocks instanceof BlockFrameWriter ? blocks.hashes : blocks.map((b) => b.hash);
      if (hashes.includes(sha('content c'))) {
        refused.push(hashes.length);
        throw new FerryError('forbidden', 'not this one', { status: 403 });
      }
      return real.call(this, blocks, options);
    };
    try {
      // Started only once all four are queued: a pusher already running may take the first
      // ones before the last is queued (a loaded machine sent a group of three).
      const rig = await pushRig({ start: false });
      t = rig;
      for (const name of ['a', 'b', 'c', 'd']) await rig.write(`${name}.txt`, `content ${name}`);
      for (const name of ['a', 'b', 'c', 'd']) await rig.enqueue(`${name}.txt`);
      await rig.pusher.start();
      rig.pusher.kick();
      for (const name of ['a', 'b', 'd']) await rig.waitState(`${name}.txt`, 'done');
      const failed = await rig.waitState('c.txt', 'failed');
      expect(failed.lastErrorCode).toBe('forbidden');
      // First the whole group, then halves, down to c alone.
      expect(refused[0]).toBe(4);
      expect(refused.at(-1)).toBe(1);
    } finally {
      SyncApiClient.prototype.putBlocks = real;
    }
  });
});

describe('pusher: a server without batch uploads', () => {
  let t: PushRig | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('falls back to one PUT per block after a 404 on the batch endpoint', async () => {
    const rig = await pushRig();
    t = rig;
    withoutBlockBatches(rig);
    for (let i = 0; i < 3; i++) await rig.write(`old${i}.txt`, `older server ${i}`);
    for (let i = 0; i < 3; i++) await rig.enqueue(`old${i}.txt`);
    rig.pusher.kick();
    for (let i = 0; i < 3; i++) await rig.waitState(`old${i}.txt`, 'done');
    expect(rig.proxy.fired('no-batch')).toBe(1);
    expect(blockPuts(rig).map((r) => r.path).sort()).toEqual([0, 1, 2].map((i) => `/v1/blocks/${sha(`older server ${i}`)}`).sort());
  });
});
