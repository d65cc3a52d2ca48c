import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../main/control/cli';

describe('ferry with an unknown command', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is a usage error (exit 2); with --json the one error object every command prints (found by a new-user try: text)', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await main(['frobnicate', '--json'])).toBe(2);
    expect(JSON.parse(String(err.mock.calls[0]![0]))).toEqual({ error: { code: 'usage', message: "unknown command 'frobnicate'; run 'ferry --help' for the commands", retryable: false } });
    err.mockClear();
    expect(await main(['frobnicate'])).toBe(2);
    expect(String(err.mock.calls[0]![0])).toMatch(/^ferry: unknown command 'frobnicate'\n/);
  });
});
