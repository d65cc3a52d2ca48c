import { describe, expect, it } from 'vitest';
import { runSeed } from './run-seed';

// The gate with the full-disk fault (issue 21, test/chaos/disk-fault.ts): each device on a
// small tmpfs of its own, filled for a few steps and freed again, on top of the usual faults.
// Every invariant must hold, and the fault must have happened (a run with no disk filled
// proves nothing). `npm run chaos -- --disk-full --seeds N` is the long run.
const SEEDS = [3, 4];
const OPS = 60;

describe('chaos: convergence with full disks now and then', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed} (${OPS} ops, --disk-full) converges with nothing lost`, async () => {
      const result = await runSeed({ seed, ops: OPS, faults: true, diskFull: true, nfd: true, settleTimeoutMs: 120_000, log: () => undefined });
      expect(result.executed).toBeGreaterThan(OPS / 2);
      expect(result.diskFills).toBeGreaterThan(0);
      expect(result.failures, `replay: npm run chaos -- --seed ${seed} --ops ${OPS} --devices ${result.devices} --disk-full --verbose`).toEqual([]);
    }, 300_000);
  }
});
