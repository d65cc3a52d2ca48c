import { defineConfig } from 'vitest/config';

/**
 * The server contract suites that run a second time on PostgreSQL + S3 (docs/architecture.md,
 * "Server storage"): one suite body, two backends. The `postgres` project starts one real
 * PostgreSQL and one s3rver for the run (test/helpers/backends-setup.ts).
 */
export const POSTGRES_SUITES = [
  'test/integration/server-batches.test.ts',
  'test/integration/server-changes.test.ts',
  'test/integration/server-moves.test.ts',
  'test/integration/server-history.test.ts',
  'test/integration/server-blocks-folders.test.ts',
  'test/integration/server-hardening-idempotency.test.ts',
  'test/integration/server-hardening-paths.test.ts',
  'test/integration/server-cluster.test.ts',
  'test/integration/server-ops.test.ts',
  'test/integration/server-accounts.test.ts',
  'test/integration/server-user-remove.test.ts',
  'test/integration/server-auth-scoping.test.ts',
  'test/integration/server-block-batch.test.ts',
  'test/integration/server-block-lookups.test.ts',
  'test/integration/server-dirs.test.ts',
  'test/integration/server-hardening-fuzz.test.ts',
  'test/integration/server-hardening-logs.test.ts',
  'test/integration/server-hardening-limits.test.ts',
  'test/integration/server-hardening-request-target.test.ts',
  'test/integration/server-gc.test.ts',
  'test/integration/server-lost-blocks.test.ts',
  'test/integration/server-restart.test.ts',
];

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real servers and child processes; two cores.
    maxWorkers: 2,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'sqlite', include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'], exclude: ['test/integration/server-cluster.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'postgres', include: POSTGRES_SUITES, env: { FERRY_TEST_BACKEND: 'postgres' }, globalSetup: ['test/helpers/backends-setup.ts'] },
      },
    ],
  },
});
