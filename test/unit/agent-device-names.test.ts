import { describe, expect, it } from 'vitest';
import { DeviceNames } from '../../main/engine/agent/device-names';
import { waitFor } from '../helpers/wait';

const OTHER = 'fa12d35f-1d52-42d6-bdea-9346a1899aaa';

describe('device names', () => {
  function names(listed: Array<{ device: string; name: string }>) {
    let now = 10_000;
    const calls = { list: 0, learned: 0 };
    const n = new DeviceNames({
      self: { id: 'self', name: 'this laptop' },
      list: async () => {
        calls.list++;
        return listed;
      },
      onLearned: () => calls.learned++,
      now: () => now,
    });
    return { n, calls, advance: (ms: number) => (now += ms) };
  }

  it('a held delete by a device no digest named yet is named from the next read on, without a listing asked for', async () => {
    const { n, calls } = names([{ device: OTHER, name: 'desk' }]);
    const hold = { count: 8, devices: [OTHER] };
    // The first read answers at once, with the short id; the names are read in the background.
    expect(n.hold(hold)?.devices).toEqual(['device fa12d35f']);
    await waitFor(() => calls.list === 1, { message: 'the names read' });
    await waitFor(() => n.hold(hold)?.devices[0] === 'desk', { message: 'the device named' });
    // Told once, so that what printed the id (the agent's state line) says it again.
    expect(calls.learned).toBe(1);
  });

  it('looks an unnamed device up at most every 2 s, however often the status is read', async () => {
    const { n, calls, advance } = names([]);
    const hold = { count: 8, devices: [OTHER] };
    for (let i = 0; i < 5; i++) expect(n.hold(hold)?.devices).toEqual(['device fa12d35f']);
    await waitFor(() => calls.list === 1, { message: 'one read' });
    await new Promise((resolve) => setImmediate(resolve)); // the read's promise settles (one turn of the loop)
    advance(1999);
    n.hold(hold);
    advance(1);
    n.hold(hold);
    await waitFor(() => calls.list === 2, { message: 'a second read after the gap' });
    expect(calls.list).toBe(2);
    expect(calls.learned).toBe(0);
  });

  // Found by review: an Undo offer names its devices for a day; an id no digest names any more
  // was looked up every 2 s of it.
  it('looks a device that stays unnamed up less and less often, at most every 10 minutes', async () => {
    const { n, calls, advance } = names([]);
    const offer = { count: 8, devices: [OTHER] };
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    const gaps = [2_000, 4_000, 8_000, 16_000];
    n.hold(offer);
    await waitFor(() => calls.list === 1, { message: 'the first look' });
    for (const [i, gap] of gaps.entries()) {
      await settle();
      advance(gap - 1);
      n.hold(offer);
      await settle();
      expect(calls.list).toBe(i + 1);
      advance(1);
      n.hold(offer);
      await waitFor(() => calls.list === i + 2, { message: `a look after ${gap} ms` });
    }
    // Capped: ten minutes apart from then on.
    for (let i = 0; i < 10; i++) {
      await settle();
      advance(10 * 60_000);
      n.hold(offer);
    }
    await waitFor(() => calls.list === gaps.length + 11, { message: 'one look per ten minutes' });
  });

  it('a hold from this device (no devices) reads nothing', () => {
    const { n, calls } = names([]);
    expect(n.hold({ count: 3, devices: [] })).toEqual({ count: 3, devices: [] });
    expect(n.hold(null)).toBeNull();
    expect(calls.list).toBe(0);
  });
});
