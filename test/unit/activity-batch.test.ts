import { describe, expect, it } from 'vitest';
import { createLogger } from '../../main/logging';
import { ActivityBatch } from '../../main/engine/activity-batch';
import type { NewActivity } from '../../main/store/activity';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

// The Activity lines of one event-loop turn go in one commit (a push batch's uploads, a pull's
// downloads): each line on its own cost a commit of the state database per file.
describe('ActivityBatch', () => {
  it('writes the lines of one turn together, once the loop turns; flush writes what waits at once', async () => {
    const commits: NewActivity[][] = [];
    const lines = new ActivityBatch({ addMany: (entries) => void commits.push([...entries]) }, createLogger('test'));
    for (let i = 0; i < 3; i++) lines.add({ kind: 'uploaded', path: `f${i}`, message: 'Uploaded' });
    expect(commits).toEqual([]);
    await turn();
    expect(commits.map((c) => c.map((e) => e.path))).toEqual([['f0', 'f1', 'f2']]);
    lines.add({ kind: 'uploaded', path: 'f3', message: 'Uploaded' });
    lines.flush();
    expect(commits.map((c) => c.length)).toEqual([3, 1]);
    await turn();
    expect(commits.map((c) => c.length)).toEqual([3, 1]);
  });

  it('a line that cannot be written is dropped with a warning, never thrown at the work that logged it', async () => {
    const lines = new ActivityBatch(
      {
        addMany: () => {
          throw new Error('SQLITE_FULL: database or disk is full');
        },
      },
      createLogger('test'),
    );
    lines.add({ kind: 'uploaded', path: 'f', message: 'Uploaded' });
    expect(() => lines.flush()).not.toThrow();
  });
});
