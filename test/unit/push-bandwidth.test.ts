import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../main/engine/push/bandwidth';
import { FakeTimers, flush } from './push-fake-timers';

describe('push bandwidth limiter', () => {
  it('0 means no limit', async () => {
    const timers = new FakeTimers();
    const bucket = new TokenBucket(0, timers);
    await bucket.take(10 ** 9);
    expect(timers.count).toBe(0);
  });

  it('holds the average at the rate after the burst', async () => {
    const timers = new FakeTimers();
    const bucket = new TokenBucket(1000, timers, 250); // 1000 B/s, 250 B of burst
    let sent = 0;
    const pump = (async () => {
      for (let i = 0; i < 10; i++) {
        await bucket.take(250);
        sent += 250;
      }
    })();
    await flush();
    expect(sent).toBe(250); // the burst, at once (then in debt)
    await timers.advance(249);
    expect(sent).toBe(250);
    await timers.advance(1);
    expect(sent).toBe(500);
    await timers.advance(2000);
    expect(sent).toBe(2500);
    await pump;
  });

  it('changes rate at runtime and wakes waiters when the limit is lifted', async () => {
    const timers = new FakeTimers();
    const bucket = new TokenBucket(100, timers, 0);
    await bucket.take(1000); // 10 s of debt at 100 B/s
    let done = false;
    const next = bucket.take(1).then(() => (done = true));
    await timers.advance(1000);
    expect(done).toBe(false);
    bucket.setRate(0);
    await flush();
    await next;
    expect(done).toBe(true);
    bucket.setRate(10);
    await bucket.take(10);
    let later = false;
    void bucket.take(1).then(() => (later = true));
    await timers.advance(999);
    expect(later).toBe(false);
    await timers.advance(1);
    expect(later).toBe(true);
  });

  it('stops waiting when aborted', async () => {
    const timers = new FakeTimers();
    const bucket = new TokenBucket(1, timers, 0);
    await bucket.take(100);
    const ac = new AbortController();
    const p = bucket.take(1, ac.signal);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'aborted' });
  });
});
