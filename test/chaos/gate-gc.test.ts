import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSeed } from './run-seed';

// The gate with garbage collection racing every upload (issue 15): the server keeps versions
// 5 s and collects garbage every second with no grace period (`npm run chaos -- --gc`). Every
// invariant must hold, and collections must have run and pruned history (a run where GC never
// removed anything proves nothing). Seed 2 is the one that once ended unconverged: a pack
// collected while its rows were being written (server-gc-pack-race.test.ts).
const SEEDS = [2];
const OPS = 60;

describe('chaos: convergence while garbage collection runs every second', () => {
  beforeAll(() => {
    process.env.FERRY_CHAOS_GC = '1';
  });
  afterAll(() => {
    delete process.env.FERRY_CHAOS_GC;
  });
  for (const seed of SEEDS) {
    it(`seed ${seed} (${OPS} ops, --gc, 2 devices) converges with nothing lost`, async () => {
      const result = await runSeed({ seed, ops: OPS, devices: 2, faults: true, nfd: true, settleTimeoutMs: 120_000, keep: true, log: () => undefined });
      expect(result.executed).toBeGreaterThan(OPS / 2);
      expect(result.gcRuns).toBeGreaterThan(3);
      expect(result.gcPrunedVersions).toBeGreaterThan(0);
      expect(result.failures, `replay: npm run chaos -- --seed ${seed} --ops ${OPS} --devices 2 --gc --verbose`).toEqual([]);
    }, 300_000);
  }
});
