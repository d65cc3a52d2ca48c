import { describe, expect, it } from 'vitest';
import { CurrentPusher } from '../../main/engine/push';

/** A pusher's two wake-ups, counted. */
const counting = () => {
  const calls: string[] = [];
  return { calls, kick: () => calls.push('kick'), queued: () => calls.push('queued') };
};

describe('CurrentPusher (the handle the local sides wake the pusher through)', () => {
  it('passes each wake to the pusher it points at, and only to that one', () => {
    const handle = new CurrentPusher();
    const first = counting();
    const second = counting();
    handle.set(first);
    handle.kick();
    handle.queued();
    // A new server or token: the engine builds another pusher and points the handle at it.
    handle.set(second);
    handle.kick();
    expect(first.calls).toEqual(['kick', 'queued']);
    expect(second.calls).toEqual(['kick']);
  });

  it('drops a wake while no pusher runs (the next one claims what is due when it starts)', () => {
    const handle = new CurrentPusher();
    expect(() => handle.kick()).not.toThrow();
    const stopped = counting();
    handle.set(stopped);
    handle.set(null);
    handle.queued();
    expect(stopped.calls).toEqual([]);
  });
});
