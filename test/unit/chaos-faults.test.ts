import { describe, expect, it } from 'vitest';
import { makeFaultPlan, type FaultEvent } from '../chaos/faults';

/** A plan's events in step order, as "step kind…" strings. */
const flat = (events: Map<number, FaultEvent[]>): Array<[number, FaultEvent]> =>
  [...events.entries()].sort(([a], [b]) => a - b).flatMap(([step, list]) => list.map((e): [number, FaultEvent] => [step, e]));

describe('chaos fault plan with PostgreSQL and several server processes (issue 19)', () => {
  for (const seed of [1, 2, 7, 42, 1234]) {
    it(`seed ${seed}: the SQLite plan stays, restarts become kills of one process while another serves, PostgreSQL restarts once`, () => {
      const sqlite = makeFaultPlan(seed, 2, 60, true);
      const pg = makeFaultPlan(seed, 2, 60, true, { backend: 'postgres', servers: 2 });
      const isServerEvent = (e: FaultEvent) => ['restart-server', 'kill-server', 'start-server', 'restart-postgres'].includes(e.kind);
      // Everything but the server events is the SQLite seed's plan, step for step.
      expect(flat(pg.events).filter(([, e]) => !isServerEvent(e))).toEqual(flat(sqlite.events).filter(([, e]) => !isServerEvent(e)));
      expect(pg.rules).toEqual(sqlite.rules);
      expect(pg.proxySeed).toBe(sqlite.proxySeed);

      const events = flat(pg.events);
      expect(events.filter(([, e]) => e.kind === 'restart-server')).toEqual([]);
      expect(events.filter(([, e]) => e.kind === 'restart-postgres')).toHaveLength(1);
      const kills = events.filter(([, e]) => e.kind === 'kill-server');
      expect(kills.length).toBeGreaterThan(0);
      // Played in order, at most one of the two processes is ever down, and each comes back.
      const down = new Set<number>();
      for (const [, e] of events) {
        if (e.kind === 'kill-server') {
          expect(down.has(e.process)).toBe(false);
          down.add(e.process);
          expect(down.size).toBeLessThan(2);
        } else if (e.kind === 'start-server') {
          expect(down.delete(e.process)).toBe(true);
        }
      }
      expect(down.size).toBe(0);
    });
  }

  it('with one process, a server restart stays a restart of it', () => {
    const plan = flat(makeFaultPlan(3, 2, 60, true, { backend: 'postgres', servers: 1 }).events);
    expect(plan.some(([, e]) => e.kind === 'restart-server')).toBe(true);
    expect(plan.some(([, e]) => e.kind === 'kill-server')).toBe(false);
    expect(plan.filter(([, e]) => e.kind === 'restart-postgres')).toHaveLength(1);
  });
});
