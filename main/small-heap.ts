import { setFlagsFromString } from 'node:v8';

/**
 * V8 sizes its heap for throughput: a young generation that grows to 32 MiB and an old one
 * grown in large steps before it is collected. An agent that runs all day in the background
 * trades a little speed for memory instead: the young generation keeps its first size and the
 * old one is collected before it grows. On a push of 10,000 small files this took the agent's
 * peak RSS from about 180 MiB to about 120 (README, "Benchmarks"; issue 20).
 *
 * Set once, as the agent starts (`ferry agent`, and the Electron app's main process, which runs
 * the engine), before the engine allocates. V8 reads both flags each time it resizes the heap,
 * so they apply to the process already running.
 */
export const SMALL_HEAP_FLAGS = ['--optimize-for-size', '--semi-space-growth-factor=1'] as const;

export function preferSmallHeap(): void {
  for (const flag of SMALL_HEAP_FLAGS) setFlagsFromString(flag);
}
