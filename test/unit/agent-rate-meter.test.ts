import { describe, expect, it } from 'vitest';
import { RateMeter } from '../../main/engine/agent/rate-meter';
import { manualClock } from '../helpers/local-temp';

describe('RateMeter', () => {
  it('averages over its window and forgets what is older', () => {
    const clock = manualClock(0);
    const meter = new RateMeter(2000, clock.now);
    meter.add(1000);
    clock.advance(500);
    meter.add(3000);
    expect(meter.perSecond()).toBe(2000);
    clock.advance(1600);
    expect(meter.perSecond()).toBe(1500);
    clock.advance(1000);
    expect(meter.perSecond()).toBe(0);
  });

  it('says how long nothing has moved', () => {
    const clock = manualClock(0);
    const meter = new RateMeter(5000, clock.now);
    expect(meter.quietForMs()).toBe(Number.POSITIVE_INFINITY);
    meter.add(10);
    clock.advance(700);
    expect(meter.quietForMs()).toBe(700);
    meter.add(10);
    expect(meter.quietForMs()).toBe(0);
  });
});
