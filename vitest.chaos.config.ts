import { defineConfig } from 'vitest/config';

// The randomized convergence gate (test/chaos/gate.test.ts) runs on its own after the other
// suites: each seed runs a server and several agents whose timing matters, so it must not
// share two cores with other test files.
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    environment: 'node',
    testTimeout: 240_000,
    hookTimeout: 30_000,
    maxWorkers: 1,
    pool: 'forks',
  },
});
