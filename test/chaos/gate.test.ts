import { describe, expect, it } from 'vitest';
import { runSeed } from './run-seed';

// The randomized convergence gate: a fixed set of seeds, each with the real server and two or
// three real agents in child processes, a seeded workload on every device at once, proxy faults,
// kill -9 of agents and a server restart; then every invariant (convergence, no data loss, no
// spurious conflicts, no temp files). Seeds that found bugs (see chaos-regressions.test.ts);
// seed 3 runs three devices. It runs alone, after the other suites (vitest.chaos.config.ts):
// which request a fault hits depends on timing, and other test files on the same two cores
// once made it miss its settle deadline. `npm run chaos -- --seeds 500` is the long run.
const SEEDS = [2, 3, 5, 8];
const OPS = 60;
// keep: a failing seed keeps its folder and names its logs in the failure (a red run that
// left nothing to read could not be explained: seed 8 once on Node 24).

describe('chaos: randomized multi-device convergence under faults', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed} (${OPS} ops) converges with nothing lost`, async () => {
      const result = await runSeed({ seed, ops: OPS, faults: true, nfd: true, settleTimeoutMs: 120_000, keep: true, log: () => undefined });
      const faults = Object.values(result.faultsInjected).reduce((a, b) => a + b, 0);
      // The run did what it claims: operations ran and faults were injected.
      expect(result.executed).toBeGreaterThan(OPS / 2);
      expect(faults + result.agentKills + result.serverRestarts).toBeGreaterThan(0);
      expect(result.failures, `replay: npm run chaos -- --seed ${seed} --ops ${OPS} --devices ${result.devices} --verbose`).toEqual([]);
    }, 240_000);
  }
});
