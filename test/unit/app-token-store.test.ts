import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOKEN_FILE, createTokenStore, tokenProtection } from '../../main/app/token-store';
import { fakeLogger, fakeSafeStorage } from '../fakes/app-fakes';

const TOKEN = 'tok_3f9a8c7e2b1d';
const tempDir = () => mkdtempSync(path.join(os.tmpdir(), 'ferry-token-'));

describe('token protection is reported honestly', () => {
  it.each([
    ['macOS keychain', { available: true }, 'darwin', 'os'],
    ['Windows DPAPI', { available: true }, 'win32', 'os'],
    ['Linux libsecret', { available: true, backend: 'gnome_libsecret' }, 'linux', 'os'],
    ['Linux kwallet', { available: true, backend: 'kwallet5' }, 'linux', 'os'],
    ['Linux basic_text (no secret store)', { available: true, backend: 'basic_text' }, 'linux', 'plaintext'],
    ['no encryption at all', { available: false }, 'linux', 'plaintext'],
    ['no encryption on Windows', { available: false }, 'win32', 'plaintext'],
  ] as const)('%s → %s', (_name, storage, platform, expected) => {
    expect(tokenProtection(fakeSafeStorage(storage), platform)).toBe(expected);
  });
});

describe('token store', () => {
  it('round-trips an OS-protected token without writing it in the clear', () => {
    const dir = tempDir();
    const store = createTokenStore({ dir, safeStorage: fakeSafeStorage({ available: true, backend: 'gnome_libsecret' }), platform: 'linux', log: fakeLogger() });
    expect(store.get()).toBeNull();
    store.set(TOKEN);
    expect(store.get()).toBe(TOKEN);
    const onDisk = readFileSync(path.join(dir, TOKEN_FILE), 'utf8');
    expect(onDisk).not.toContain(TOKEN);
    expect(JSON.parse(onDisk)).toMatchObject({ v: 1, protection: 'os' });
    if (process.platform !== 'win32') expect(statSync(path.join(dir, TOKEN_FILE)).mode & 0o777).toBe(0o600);
  });

  it('with basic_text says plaintext, stores it as such and warns without the token', () => {
    const dir = tempDir();
    const log = fakeLogger();
    const store = createTokenStore({ dir, safeStorage: fakeSafeStorage({ available: true, backend: 'basic_text' }), platform: 'linux', log });
    store.set(TOKEN);
    expect(store.protection()).toBe('plaintext');
    expect(JSON.parse(readFileSync(path.join(dir, TOKEN_FILE), 'utf8'))).toEqual({ v: 1, protection: 'plaintext', data: TOKEN });
    expect(store.get()).toBe(TOKEN);
    expect(log.entries.some((e) => e.level === 'warn' && e.message.includes('unencrypted'))).toBe(true);
    expect(JSON.stringify(log.entries)).not.toContain(TOKEN);
  });

  it('works without any encryption (and says so)', () => {
    const dir = tempDir();
    const store = createTokenStore({ dir, safeStorage: fakeSafeStorage({ available: false }), platform: 'linux', log: fakeLogger() });
    store.set(TOKEN);
    expect(store.get()).toBe(TOKEN);
    expect(store.protection()).toBe('plaintext');
  });

  it('asks again (null) when the keychain can no longer decrypt, and clears', () => {
    const dir = tempDir();
    const store = createTokenStore({ dir, safeStorage: fakeSafeStorage({ available: true }), platform: 'darwin', log: fakeLogger() });
    store.set(TOKEN);
    const broken = fakeSafeStorage({ available: true });
    broken.decryptString = () => {
      throw new Error('keychain refused');
    };
    expect(createTokenStore({ dir, safeStorage: broken, platform: 'darwin', log: fakeLogger() }).get()).toBeNull();
    store.clear();
    expect(store.get()).toBeNull();
  });

  it('refuses a damaged file with a coded error', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, TOKEN_FILE), '{not json');
    const store = createTokenStore({ dir, safeStorage: fakeSafeStorage({ available: true }), platform: 'darwin', log: fakeLogger() });
    expect(() => store.get()).toThrow(expect.objectContaining({ code: 'token_unreadable', retryable: false }));
  });
});
