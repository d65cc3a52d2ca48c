import { describe, expect, it } from 'vitest';
import { MAX_SETTLE_REQUEUES, checkRequeueLoops } from '../chaos/invariants';

// Invariant 5 of the chaos harness (chaos seed 1051: a file queued again every 3 s for three
// minutes after the faults stopped). It reads the agents' own log lines, so these pin the line
// it matches to what main/engine/push/send.ts writes.
describe('chaos invariant 5: no requeue loop after the faults stop', () => {
  const line = (p: string) => `[2026-12-01 22:00:00.000] [info] (push) file changed before commit: queued again path=${p} outcome=retry_wait`;

  it('refuses a path queued again more than a few times while nothing changes', () => {
    const log = Array.from({ length: MAX_SETTLE_REQUEUES + 1 }, () => line('docs/ärger/naïve résumé.pdf')).join('\n');
    expect(checkRequeueLoops([{ name: 'dev-b', log }])).toEqual([
      `[5] dev-b: "docs/ärger/naïve résumé.pdf" was queued again ${MAX_SETTLE_REQUEUES + 1} times after the faults stopped, with no user change (a requeue loop)`,
    ]);
  });

  it('lets a few requeues pass, counted per device and path', () => {
    const few = Array.from({ length: MAX_SETTLE_REQUEUES }, () => line('a.txt'));
    expect(checkRequeueLoops([{ name: 'dev-a', log: [...few, line('b.txt')].join('\n') }, { name: 'dev-b', log: few.join('\n') }])).toEqual([]);
  });
});
