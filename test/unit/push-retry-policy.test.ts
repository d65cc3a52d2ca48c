import { describe, expect, it } from 'vitest';
import { FerryError } from '../../protocol/errors';
import { backoffMs, classify, mayRetry } from '../../main/engine/push/retry-policy';

const http = (status: number, code: string, retryAfterSeconds?: number) =>
  new FerryError(code, `HTTP ${status}`, { status, retryable: status >= 500, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) });

describe('push retry policy', () => {
  it('retries network failures, 5xx, 429, 504 and path_locked', () => {
    for (const e of [http(500, 'internal'), http(503, 'unavailable'), http(504, 'timeout'), http(429, 'rate_limited'), http(423, 'path_locked'), new FerryError('network', 'reset', { retryable: true })]) {
      expect(classify(e).action).toBe('retry');
    }
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(classify(reset)).toMatchObject({ action: 'retry', code: 'network' });
  });

  it('fails at once on 400, 403, 413, 422 and unreadable local files', () => {
    for (const e of [http(400, 'invalid_request'), http(403, 'forbidden'), http(413, 'payload_too_large'), http(422, 'hash_mismatch')]) {
      expect(classify(e)).toMatchObject({ action: 'fail', code: e.code });
    }
    expect(classify(Object.assign(new Error('denied'), { code: 'EACCES' }))).toMatchObject({ action: 'fail', code: 'local_unreadable' });
    expect(classify(new FerryError('file_changed', 'changed', { retryable: true })).action).toBe('fail');
  });

  it('tells offline (refused, DNS) from a broken request, through the cause chain', () => {
    const refused = new FerryError('offline', 'unreachable', { retryable: true });
    expect(classify(refused).action).toBe('offline');
    const wrapped = new FerryError('network', 'x', { retryable: true, cause: Object.assign(new Error('dns'), { code: 'ENOTFOUND' }) });
    expect(classify(wrapped).action).toBe('offline');
  });

  it('holds items on a refused token (wrong or revoked) instead of failing them', () => {
    expect(classify(http(401, 'unauthorized'))).toMatchObject({ action: 'offline', code: 'unauthorized' });
    expect(classify(http(401, 'device_revoked'))).toMatchObject({ action: 'offline', code: 'device_revoked' });
  });

  it('carries Retry-After, which wins over the backoff formula', () => {
    const v = classify(http(429, 'rate_limited', 7));
    expect(v).toMatchObject({ action: 'retry', retryAfterMs: 7000 });
    expect(backoffMs(1, { baseMs: 1000, capMs: 300_000 }, () => 0.5, 7000)).toBe(7000);
  });

  it('backs off exponentially from the base with full jitter, capped', () => {
    const o = { baseMs: 1000, capMs: 300_000 };
    const top = () => 0.999999;
    expect(backoffMs(1, o, top)).toBe(999);
    expect(backoffMs(2, o, top)).toBe(1999);
    expect(backoffMs(4, o, top)).toBe(7999);
    expect(backoffMs(30, o, top)).toBe(299_999);
    expect(backoffMs(3, o, () => 0)).toBe(0);
    const seen = new Set(Array.from({ length: 50 }, (_, i) => backoffMs(3, o, () => i / 50)));
    expect(seen.size).toBe(50);
    for (const d of seen) expect(d).toBeLessThan(4000);
  });

  it('allows exactly retryLimit retries', () => {
    expect([0, 1, 2, 3].map((n) => mayRetry(n, { retryLimit: 3 }))).toEqual([true, true, true, false]);
  });
});
