import { describe, expect, it } from 'vitest';
import { LOGIN_CODE_TTL_MS, LoginCodes } from '../../main/control/control-login';
import { manualClock } from '../helpers/local-temp';

describe('LoginCodes', () => {
  it('accepts a code once', () => {
    const codes = new LoginCodes();
    const code = codes.create();
    expect(codes.consume(code)).toBe(true);
    expect(codes.consume(code)).toBe(false);
  });

  it('expires codes after the TTL (10 minutes)', () => {
    const clock = manualClock();
    const codes = new LoginCodes(clock.now);
    const code = codes.create();
    clock.advance(LOGIN_CODE_TTL_MS);
    expect(LOGIN_CODE_TTL_MS).toBe(600_000);
    expect(codes.consume(code)).toBe(false);
  });

  it('makes distinct, unguessable-length codes', () => {
    const codes = new LoginCodes();
    const made = new Set(Array.from({ length: 50 }, () => codes.create()));
    expect(made.size).toBe(50);
    for (const code of made) expect(code.length).toBeGreaterThanOrEqual(32);
    expect(codes.consume('not-a-code')).toBe(false);
  });
});
