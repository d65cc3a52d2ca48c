import { mulberry32 } from '../helpers/seeded-random';
/**
 * A small seeded PRNG (mulberry32) with the helpers the chaos harness needs. Every random
 * choice of a run comes from one of these, derived from the run's seed, so a seed replays
 * the same plan: the same operations, names, contents and fault events, in the same order.
 */
export interface Rng {
  /** In [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Picks by weight: [[value, weight], …]. */
  weighted<T>(entries: ReadonlyArray<readonly [T, number]>): T;
  /** A fresh 32-bit seed, for a sub-stream (the fault proxy, content bytes). */
  seed(): number;
}

export { mulberry32 };

/** Mixes a label into a seed, so sub-streams ("workload", "faults") are independent. */
export function deriveSeed(seed: number, label: string): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}

export function createRng(seed: number): Rng {
  const next = mulberry32(seed);
  const rng: Rng = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[Math.floor(next() * items.length)]!;
    },
    weighted: (entries) => {
      const total = entries.reduce((sum, [, w]) => sum + w, 0);
      let r = next() * total;
      for (const [value, weight] of entries) {
        r -= weight;
        if (r < 0) return value;
      }
      return entries[entries.length - 1]![0];
    },
    seed: () => Math.floor(next() * 4294967296) >>> 0,
  };
  return rng;
}

/** Deterministic bytes for a content seed (fast: one PRNG word per 4 bytes). */
export function seededBytes(seed: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  const next = mulberry32(seed);
  let i = 0;
  for (; i + 4 <= size; i += 4) buf.writeUInt32LE(Math.floor(next() * 4294967296) >>> 0, i);
  for (; i < size; i++) buf[i] = Math.floor(next() * 256);
  return buf;
}
