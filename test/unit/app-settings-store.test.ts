import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS_FILE, createSettingsStore } from '../../main/app/settings-store';
import { createTokenStore } from '../../main/app/token-store';
import type { SettingsUpdate } from '../../shared/ui-contract';
import { fakeLogger, fakeSafeStorage } from '../fakes/app-fakes';
import { testSettings } from '../helpers/agent-settings';

const TOKEN = 'tok_settings_7a1';

function setup(backend = 'gnome_libsecret') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-settings-'));
  const log = fakeLogger();
  const tokens = createTokenStore({ dir, safeStorage: fakeSafeStorage({ available: true, backend }), platform: 'linux', log });
  return { dir, log, tokens, store: createSettingsStore({ dir, tokens, log }) };
}

const update = (overrides: Partial<SettingsUpdate> = {}): SettingsUpdate => ({
  ...testSettings('https://sync.example.com', TOKEN, [{ localPath: '/home/ada/Documents', remoteId: 'docs' }]),
  ...overrides,
});

describe('settings store', () => {
  it('has nothing before the first save', () => {
    const { store } = setup();
    expect(store.load()).toBeNull();
    expect(store.view()).toBeNull();
  });

  it('saves the settings to JSON and the token to the token store only', () => {
    const { store, dir } = setup();
    const saved = store.save(update());
    expect(saved.token).toBe(TOKEN);
    const file = readFileSync(path.join(dir, SETTINGS_FILE), 'utf8');
    expect(file).not.toContain(TOKEN);
    expect(JSON.parse(file)).toMatchObject({ serverUrl: 'https://sync.example.com', folders: [{ remoteId: 'docs' }] });
    expect(store.load()).toEqual(saved);
    expect(store.view()).toMatchObject({ serverUrl: 'https://sync.example.com', hasToken: true, tokenProtection: 'os' });
    expect(store.view()).not.toHaveProperty('token');
  });

  it('keeps the stored token when the update has an empty one', () => {
    const { store } = setup();
    store.save(update());
    expect(store.save(update({ token: '', concurrency: 8 }))).toMatchObject({ token: TOKEN, concurrency: 8 });
    expect(store.save(update({ token: undefined })).token).toBe(TOKEN);
  });

  it('reports plaintext protection where the OS has no secret store', () => {
    const { store } = setup('basic_text');
    store.save(update());
    expect(store.view()).toMatchObject({ hasToken: true, tokenProtection: 'plaintext' });
    expect(store.tokenProtection()).toBe('plaintext');
  });

  it('refuses invalid settings with fields, and writes nothing', () => {
    const { store, dir } = setup();
    let error: unknown;
    try {
      store.save(update({ serverUrl: 'ftp://x', folders: [{ localPath: '/a', remoteId: '../etc' }] }));
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'invalid_input', retryable: false });
    const fields = (error as { details: { fields: Record<string, string> } }).details.fields;
    expect(fields['serverUrl']).toBe('enter an http:// or https:// URL');
    expect(Object.keys(fields)).toContain('folders.0.remoteId');
    expect(() => readFileSync(path.join(dir, SETTINGS_FILE))).toThrow();
  });

  it('refuses a first save without a token', () => {
    const { store } = setup();
    expect(() => store.save(update({ token: '' }))).toThrow(expect.objectContaining({ code: 'invalid_input', details: { fields: { token: 'enter the server token' } } }));
  });

  it('refuses a settings file with invalid values or a token inside', () => {
    const { store, dir } = setup();
    writeFileSync(path.join(dir, SETTINGS_FILE), JSON.stringify({ serverUrl: 'https://x.example', concurrency: 99 }));
    expect(() => store.load()).toThrow(expect.objectContaining({ code: 'settings_invalid' }));
    writeFileSync(path.join(dir, SETTINGS_FILE), JSON.stringify({ serverUrl: 'https://x.example', token: 'leaked' }));
    expect(() => store.view()).toThrow(expect.objectContaining({ code: 'settings_invalid' }));
    writeFileSync(path.join(dir, SETTINGS_FILE), '{');
    expect(() => store.load()).toThrow(expect.objectContaining({ code: 'settings_invalid' }));
  });

  it('never logs the token', () => {
    const { store, log } = setup();
    store.save(update());
    store.save(update({ token: 'tok_second_secret' }));
    expect(JSON.stringify(log.entries)).not.toMatch(/tok_/);
    expect(store.load()?.token).toBe('tok_second_secret');
  });
});
