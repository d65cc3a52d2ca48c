import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { FerryError } from '../../protocol/errors';
import { Settings, SettingsUpdate, SettingsView, fieldErrors } from '../../shared/ui-contract';
import type { Logger } from '../logging';
import type { AgentSettingsStore } from './agent-host';
import type { TokenStore } from './token-store';

/**
 * Settings as JSON in userData, validated with the contract's schema on every read and
 * write. The token never goes into this file: the token store keeps it.
 */

export const SETTINGS_FILE = 'settings.json';
const StoredSettings = Settings.omit({ token: true });
type StoredSettings = z.infer<typeof StoredSettings>;

export interface SettingsStore extends AgentSettingsStore {
  /** The settings file without the token, or null before the first save. */
  stored(): StoredSettings | null;
}

function invalid(error: z.ZodError, message: string): FerryError {
  return new FerryError('invalid_input', message, { details: { fields: fieldErrors(error) } });
}

export function createSettingsStore(options: { dir: string; tokens: TokenStore; log: Logger }): SettingsStore {
  const { dir, tokens, log } = options;
  const file = path.join(dir, SETTINGS_FILE);

  const stored = (): StoredSettings | null => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new FerryError('settings_unreadable', `Could not read ${file}.`, { cause: error });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new FerryError('settings_invalid', `${file} is not valid JSON; fix or delete it.`, { cause: error });
    }
    const parsed = StoredSettings.safeParse(json);
    if (!parsed.success) {
      throw new FerryError('settings_invalid', `${file} has invalid values; fix them in Settings.`, { details: { fields: fieldErrors(parsed.error) } });
    }
    return parsed.data;
  };

  const write = (settings: StoredSettings) => {
    mkdirSync(dir, { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(settings, null, 2) + '\n', { mode: 0o600 });
    renameSync(temp, file);
  };

  return {
    stored,

    load() {
      const current = stored();
      const token = current ? tokens.get() : null;
      return current && token ? Settings.parse({ ...current, token }) : null;
    },

    view() {
      const current = stored();
      if (!current) return null;
      return SettingsView.parse({ ...current, hasToken: tokens.get() !== null, tokenProtection: tokens.protection() });
    },

    save(update) {
      const parsedUpdate = SettingsUpdate.safeParse(update);
      if (!parsedUpdate.success) throw invalid(parsedUpdate.error, 'Some settings are not valid.');
      const { token: newToken, ...rest } = parsedUpdate.data;
      const token = newToken?.trim() || tokens.get();
      if (!token) throw new FerryError('invalid_input', 'Enter the server token.', { details: { fields: { token: 'enter the server token' } } });
      const full = Settings.safeParse({ ...rest, token });
      if (!full.success) throw invalid(full.error, 'Some settings are not valid.');
      if (newToken?.trim()) tokens.set(token);
      const { token: _omitted, ...withoutToken } = full.data;
      write(withoutToken);
      log.info('settings saved', { folders: withoutToken.folders.length, tokenChanged: Boolean(newToken?.trim()) });
      return full.data;
    },

    tokenProtection: () => tokens.protection(),
  };
}
