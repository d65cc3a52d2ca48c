import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSeed } from './run-seed';

// The gate with users turning files into folders and folders into files (`npm run chaos --
// --kinds`) while the others write into them. Every invariant must hold, and kind changes must
// have run (a run without any proves nothing). Seed 60001 never converged before the decision
// table followed kind changes (docs/conflict-rules.md, U7, U9, DU4, DU6, D8, DD6, DD7, S23); its
// plan has 6 kind changes.
const SEED = 60001;
const OPS = 60;

describe('chaos: convergence while users turn files into folders and back', () => {
  beforeAll(() => {
    process.env.FERRY_CHAOS_KINDS = '1';
  });
  afterAll(() => {
    delete process.env.FERRY_CHAOS_KINDS;
  });
  it(`seed ${SEED} (${OPS} ops, --kinds) converges with nothing lost`, async () => {
    const result = await runSeed({ seed: SEED, ops: OPS, faults: true, nfd: true, settleTimeoutMs: 120_000, keep: true, log: () => undefined });
    expect(result.executed).toBeGreaterThan(OPS / 2);
    expect(result.kindChanges).toBeGreaterThan(0);
    expect(result.failures, `replay: npm run chaos -- --seed ${SEED} --ops ${OPS} --kinds --verbose`).toEqual([]);
  }, 300_000);
});
