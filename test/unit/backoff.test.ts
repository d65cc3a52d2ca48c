import { describe, expect, it } from 'vitest';
import { EQUAL_JITTER, FULL_JITTER, backoffDelay } from '../../shared/backoff';
import { FerryError } from '../../protocol/errors';
import { QUICK_RETRIES, WAIT_BACKOFF_CAP_MS, pullRetryDelay } from '../../main/engine/pull/puller';

// One backoff for push, pull and the renderer (shared/backoff.ts); randomness is injected.
describe('backoff', () => {
  const policy = { baseMs: 1000, capMs: 60_000 };
  const top = () => 0.999999;

  it('doubles the ceiling with every retry, up to the cap', () => {
    expect([1, 2, 3, 4, 7, 8, 60].map((retry) => backoffDelay(retry, { ...policy, jitter: [1, 1] }, top))).toEqual([
      1000, 2000, 4000, 8000, 60_000, 60_000, 60_000,
    ]);
  });

  it('draws full jitter from [0, ceiling) and equal jitter from [ceiling/2, ceiling)', () => {
    expect(backoffDelay(3, { ...policy, jitter: FULL_JITTER }, () => 0)).toBe(0);
    expect(backoffDelay(3, { ...policy, jitter: FULL_JITTER }, top)).toBe(3999);
    expect(backoffDelay(3, { ...policy, jitter: EQUAL_JITTER }, () => 0)).toBe(2000);
    expect(backoffDelay(3, { ...policy, jitter: EQUAL_JITTER }, top)).toBe(3999);
  });

  it('lets a Retry-After win over the formula, never negative', () => {
    expect(backoffDelay(9, { ...policy, jitter: FULL_JITTER }, top, 7000)).toBe(7000);
    expect(backoffDelay(1, { ...policy, jitter: FULL_JITTER }, top, -5)).toBe(0);
  });

  it('treats retry 0 and below as the first retry', () => {
    expect(backoffDelay(0, { ...policy, jitter: [1, 1] }, top)).toBe(1000);
  });
});

describe('pullRetryDelay', () => {
  const options = { retryBaseMs: 1000, retryMaxMs: 60_000 };
  const top = () => 1; // the top of the jitter's range
  const waitForScan = new FerryError('parent_gone', 'the scan has not recorded it yet', { retryable: true, retryAfterSeconds: 1 });

  it('keeps a wait of a second the first few times, then grows the backoff from it to its own cap', () => {
    for (let n = 1; n <= QUICK_RETRIES; n++) expect(pullRetryDelay(n, waitForScan, options, top)).toBe(1000);
    const later = [1, 2, 3, 4, 8].map((extra) => pullRetryDelay(QUICK_RETRIES + extra, waitForScan, options, top));
    expect(later).toEqual([1000, 2000, 4000, 8000, WAIT_BACKOFF_CAP_MS]);
  });

  it("never goes before a server's Retry-After, and backs off as ever without one", () => {
    const busy = new FerryError('unavailable', 'maintenance', { retryable: true, retryAfterSeconds: 30 });
    expect(pullRetryDelay(QUICK_RETRIES + 2, busy, options, top)).toBe(30_000);
    expect(pullRetryDelay(3, new FerryError('network', 'reset', { retryable: true }), options, top)).toBe(4000);
  });
});
