import { describe, expect, it } from 'vitest';
import type { SettingsView } from '../../shared/ui-contract';
import { errorsForDisplay, formFromSettings, validateSettingsForm } from '../../renderer/state/settings-form';

const view: SettingsView = {
  serverUrl: 'https://sync.example.com',
  folders: [{ localPath: '/home/ada/Documents', remoteId: 'docs' }],
  concurrency: 4,
  retryLimit: 3,
  bandwidthLimit: 250_000,
  ignoreRules: ['*.tmp', 'node_modules/'],
  startAtLogin: false,
  notifications: true,
  massDeletePercent: 50,
  massDeleteCount: 1000,
  asyncThreshold: 1000,
  hasToken: true,
  tokenProtection: 'os',
};

describe('settings form', () => {
  it('round-trips loaded settings into a valid update that keeps the stored token', () => {
    const check = validateSettingsForm(formFromSettings(view), { hasToken: true });
    expect(check).toEqual({
      ok: true,
      update: {
        serverUrl: view.serverUrl,
        folders: view.folders,
        concurrency: 4,
        retryLimit: 3,
        bandwidthLimit: 250_000,
        ignoreRules: ['*.tmp', 'node_modules/'],
        startAtLogin: false,
        notifications: true,
        massDeletePercent: 50,
        massDeleteCount: 1000,
        asyncThreshold: 1000,
      },
    });
  });

  it('maps schema problems to contract field paths', () => {
    const form = {
      ...formFromSettings(view),
      serverUrl: 'not a url',
      concurrency: '99',
      retryLimit: 'three',
      folders: [
        { localPath: '/a', remoteId: 'bad id!' },
        { localPath: '', remoteId: 'ok' },
      ],
    };
    const check = validateSettingsForm(form, { hasToken: true });
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(Object.keys(check.fields).sort()).toEqual(['concurrency', 'folders.0.remoteId', 'folders.1.localPath', 'retryLimit', 'serverUrl']);
    expect(check.fields.serverUrl).toBe('enter an http:// or https:// URL');
    expect(check.fields.retryLimit).toBe('enter a whole number');
    expect(check.fields['folders.1.localPath']).toBe('choose a local folder');
  });

  // A new-user try: -1 parallel transfers read "enter a whole number", which it is.
  it('says the range of a negative number, not "enter a whole number"', () => {
    const check = validateSettingsForm({ ...formFromSettings(view), concurrency: '-1', bandwidthLimitKBps: '-5' }, { hasToken: true });
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.fields.concurrency).toBe('use 1 to 32');
    expect(check.fields.bandwidthLimit).toBe('use 0 or more');
  });

  it('asks for a token when none is stored, and flags duplicate folders', () => {
    const form = { ...formFromSettings(view), folders: [view.folders[0]!, { localPath: '/home/ada/Other', remoteId: 'docs' }] };
    const check = validateSettingsForm(form, { hasToken: false });
    expect(check.ok ? {} : check.fields).toEqual({
      token: 'enter the server token',
      'folders.1.remoteId': 'another folder already syncs to this remote id',
    });
  });

  it('shows an ignore-rule error under the rules box with its line number', () => {
    const text = '*.tmp\n\n' + 'x'.repeat(1100);
    const check = validateSettingsForm({ ...formFromSettings(view), ignoreRules: text }, { hasToken: true });
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(Object.keys(check.fields)).toEqual(['ignoreRules.1']);
    expect(errorsForDisplay(check.fields, text).ignoreRules).toMatch(/^line 3: /);
  });

  // docs/conflict-rules.md, "Rules that match nothing": refused in the form, before the agent sees it.
  it('refuses an ignore rule that can match nothing, or that gitignore reads as a comment, by its line', () => {
    for (const [rule, words] of [
      ['[draft', '"[draft" has a [ without its ], so it matches nothing: write \\[ for a [ in a name'],
      ['#notes#', '"#notes#" starts with #, so it is read as a comment and matches nothing: write \\# for a name that starts with #'],
    ]) {
      const text = `*.tmp\n\n${rule}`;
      const check = validateSettingsForm({ ...formFromSettings(view), ignoreRules: text }, { hasToken: true });
      expect(check.ok, rule).toBe(false);
      if (check.ok) return;
      expect(errorsForDisplay(check.fields, text).ignoreRules).toBe(`line 3: ${words}`);
    }
    expect(validateSettingsForm({ ...formFromSettings(view), ignoreRules: '\\[draft\n\\#notes#\n[a-z]*.md' }, { hasToken: true }).ok).toBe(true);
    // Every refused rule at once, not one a Save (a new-user try).
    const both = '[draft\n*.tmp\n#notes#';
    const check = validateSettingsForm({ ...formFromSettings(view), ignoreRules: both }, { hasToken: true });
    expect(check.ok).toBe(false);
    if (!check.ok) expect(errorsForDisplay(check.fields, both).ignoreRules).toMatch(/^line 1: "\[draft" has a \[ without its \].*; line 3: "#notes#" starts with #/);
  });

  it('places the agent-side invalid_settings fields unchanged', () => {
    expect(errorsForDisplay({ 'folders.0.localPath': 'use an absolute path' }, '')).toEqual({ 'folders.0.localPath': 'use an absolute path' });
  });
});
