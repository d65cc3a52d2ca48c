import { describe, expect, it } from 'vitest';
import { FerryError } from '../../protocol';
import { FeedTokens } from '../../server/tokens';

const pos = { folderId: 'docs', after: 5, since: 3, issuedAt: 1000 };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof FerryError ? error.code : 'not-ferry';
  }
  return undefined;
}

describe('feed tokens', () => {
  const tokens = new FeedTokens('secret-one');

  it('round-trip a position', () => {
    expect(tokens.verify('token', tokens.issue('token', pos), 'docs')).toEqual(pos);
  });

  it('refuse garbled, forged, foreign and mixed-up tokens', () => {
    const good = tokens.issue('token', pos);
    const [payload, mac] = good.split('.') as [string, string];
    const forgedPayload = Buffer.from(JSON.stringify({ f: 'docs', a: 0, s: 0, t: 1000 })).toString('base64url');
    expect(codeOf(() => tokens.verify('token', 'garbage', 'docs'))).toBe('invalid_token');
    expect(codeOf(() => tokens.verify('token', `${forgedPayload}.${mac}`, 'docs'))).toBe('invalid_token');
    expect(codeOf(() => tokens.verify('token', `${payload}.${mac.slice(0, -2)}xx`, 'docs'))).toBe('invalid_token');
    expect(codeOf(() => new FeedTokens('other-secret').verify('token', good, 'docs'))).toBe('invalid_token');
    expect(codeOf(() => tokens.verify('token', good, 'photos'))).toBe('invalid_token');
    expect(codeOf(() => tokens.verify('cursor', good, 'docs'))).toBe('invalid_token');
  });
});
