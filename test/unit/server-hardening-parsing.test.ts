import { describe, expect, it } from 'vitest';
import { parseServerArgs } from '../../server/cli';
import { canonicalJson, requestFingerprint } from '../../server/idempotency';
import { jsonNestingExceeds } from '../../server/limits';
import { SERVER_DEFAULTS } from '../../server/main';

describe('jsonNestingExceeds (issue 23 item 2)', () => {
  const deep = (n: number) => Buffer.from('['.repeat(n) + ']'.repeat(n));

  it('counts arrays and objects, up to and over the limit', () => {
    expect(jsonNestingExceeds(deep(4), 4)).toBe(false);
    expect(jsonNestingExceeds(deep(5), 4)).toBe(true);
    expect(jsonNestingExceeds(Buffer.from('{"a":{"b":[{"c":[]}]}}'), 4)).toBe(true);
    expect(jsonNestingExceeds(Buffer.from('{"a":{"b":[{"c":1}]}}'), 4)).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonNestingExceeds(Buffer.from('["[[[[[[", "\\"[[[[[[[", "\\\\", []]'), 2)).toBe(false);
    expect(jsonNestingExceeds(Buffer.from('["\\\\", [[]]]'), 2)).toBe(true);
  });

  it('siblings do not add up: depth returns after each close', () => {
    expect(jsonNestingExceeds(Buffer.from('[' + '[],'.repeat(1000) + '[]]'), 2)).toBe(false);
  });
});

describe('request fingerprints (issue 23 item 7)', () => {
  const fp = (body: unknown, params: Record<string, string> = { folderId: 'a' }, legacy?: string) =>
    requestFingerprint({ method: 'PUT', template: '/v1/folders/{folderId}', params, headers: [], body, ...(legacy ? { legacy } : {}) });

  it('is the same for the same meaning, whatever the spelling', () => {
    expect(canonicalJson(JSON.parse('{"b": 1.0, "a": [ {"y":1,"x":2} ]}'))).toBe('{"a":[{"x":2,"y":1}],"b":1}');
    expect(fp(JSON.parse('{"label":"x","z":1}')).value).toBe(fp(JSON.parse('{ "z" : 1 , "label": "x" }')).value);
  });

  it('differs when a parameter, the body or the endpoint differ', () => {
    const base = fp({ label: 'x' }).value;
    expect(fp({ label: 'y' }).value).not.toBe(base);
    expect(fp({ label: 'x' }, { folderId: 'b' }).value).not.toBe(base);
    expect(requestFingerprint({ method: 'POST', template: '/v1/folders/{folderId}/sync', params: { folderId: 'a' }, headers: [], body: { label: 'x' } }).value).not.toBe(base);
    // A body with a __proto__ key is data like any other, not a prototype.
    expect(fp(JSON.parse('{"__proto__": {"a": 1}}')).value).not.toBe(fp({}).value);
  });

  it('matches a record written with the older fingerprint, and nothing else', () => {
    const f = fp({ label: 'x' }, { folderId: 'a' }, 'legacy-digest');
    expect(f.matches(f.value)).toBe(true);
    expect(f.matches('legacy-digest')).toBe(true);
    expect(f.matches('other')).toBe(false);
    expect(fp({ label: 'x' }).matches('legacy-digest')).toBe(false);
  });
});

describe('ferry server flags for the limits and the token (issue 23 items 3, 5)', () => {
  it('takes the connection caps, and the defaults without them', () => {
    const parsed = parseServerArgs(['--data', 'd', '--max-connections', '2000', '--max-connections-per-client', '500'], {});
    expect(parsed.help === false && parsed.options).toMatchObject({ maxConnections: 2000, maxConnectionsPerClient: 500 });
    const defaults = parseServerArgs(['--data', 'd'], {});
    expect(defaults.help === false && defaults.options).toMatchObject({ maxConnections: SERVER_DEFAULTS.maxConnections, maxConnectionsPerClient: SERVER_DEFAULTS.maxConnectionsPerClient });
    expect(() => parseServerArgs(['--data', 'd', '--max-connections', '0'], {})).toThrow(/max-connections/);
  });

  it('reads the token from FERRY_SERVER_TOKEN without a warning, and warns for --token', () => {
    const fromEnv = parseServerArgs(['--data', 'd'], { FERRY_SERVER_TOKEN: 'env-token-123\n' });
    expect(fromEnv.help === false && [fromEnv.options.token, fromEnv.warnings]).toEqual(['env-token-123', []]);
    const fromFlag = parseServerArgs(['--data', 'd', '--token', 'flag-token-123'], { FERRY_SERVER_TOKEN: 'env-token-123' });
    expect(fromFlag.help === false && fromFlag.options.token).toBe('flag-token-123');
    expect(fromFlag.help === false && fromFlag.warnings.join()).toMatch(/--token shows the token/);
  });
});
