import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSeed } from './run-seed';

// The gate with the mass-delete guard on and users restoring deleted files (`npm run chaos --
// --guard --restore`): deletes are held on either side while the run goes on, weighed again as
// the server moves on, and confirmed at the settle; restores bring deleted files back through
// the agents meanwhile. Every invariant must hold, deletes must have been held and files brought
// back (a run where neither happened proves nothing). Seed 51048's restores come after many
// single deletes: in five runs under load it held 3-6 times and brought 5-11 files back. Its
// predecessor, 51001, restored once in a while only (on a slow CI run, nothing: its deletes were
// still held when its restores ran). The guard alone found rules S21 and S22 (seeds 40036 and
// 40050, chaos-regressions.test.ts).
const SEED = 51048;
const OPS = 60;

describe('chaos: convergence while the mass-delete guard holds deletes and users restore', () => {
  beforeAll(() => {
    process.env.FERRY_CHAOS_GUARD = '1';
    process.env.FERRY_CHAOS_RESTORE = '1';
  });
  afterAll(() => {
    delete process.env.FERRY_CHAOS_GUARD;
    delete process.env.FERRY_CHAOS_RESTORE;
  });
  it(`seed ${SEED} (${OPS} ops, --guard --restore) converges with nothing lost`, async () => {
    const result = await runSeed({ seed: SEED, ops: OPS, faults: true, nfd: true, settleTimeoutMs: 120_000, keep: true, log: () => undefined });
    expect(result.executed).toBeGreaterThan(OPS / 2);
    expect(result.holds).toBeGreaterThan(0);
    expect(result.restoredFiles).toBeGreaterThan(0);
    expect(result.failures, `replay: npm run chaos -- --seed ${SEED} --ops ${OPS} --guard --restore --verbose`).toEqual([]);
  }, 300_000);
});
