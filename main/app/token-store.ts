import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FerryError } from '../../protocol/errors';
import type { Logger } from '../logging';

/**
 * The server token, kept with Electron's safeStorage in userData. Honest about protection:
 * where the OS has no secret store (Linux `basic_text`, or no encryption at all) safeStorage
 * would only obfuscate, so Ferry reports 'plaintext' and the settings window says so.
 */

export type TokenProtection = 'os' | 'plaintext';

/** The part of Electron's safeStorage we use (injectable; valid only after app ready). */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only. */
  getSelectedStorageBackend?(): string;
}

export interface TokenStore {
  protection(): TokenProtection;
  get(): string | null;
  set(token: string): void;
  clear(): void;
}

export const TOKEN_FILE = 'server-token.json';

interface TokenFile {
  v: 1;
  /** 'os': base64 of safeStorage's ciphertext; 'plaintext': the token as it is. */
  protection: TokenProtection;
  data: string;
}

export function tokenProtection(safeStorage: SafeStorageLike, platform: string): TokenProtection {
  if (!safeStorage.isEncryptionAvailable()) return 'plaintext';
  if (platform === 'linux' && safeStorage.getSelectedStorageBackend?.() === 'basic_text') return 'plaintext';
  return 'os';
}

export function createTokenStore(options: { dir: string; safeStorage: SafeStorageLike; platform: string; log: Logger }): TokenStore {
  const { dir, safeStorage, platform, log } = options;
  const file = path.join(dir, TOKEN_FILE);

  const read = (): TokenFile | null => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new FerryError('token_unreadable', 'The stored server token could not be read.', { cause: error });
    }
    let parsed: Partial<TokenFile> | null = null;
    try {
      parsed = JSON.parse(text) as Partial<TokenFile>;
    } catch {
      parsed = null;
    }
    if (!parsed || parsed.v !== 1 || (parsed.protection !== 'os' && parsed.protection !== 'plaintext') || typeof parsed.data !== 'string') {
      throw new FerryError('token_unreadable', 'The stored server token is damaged; enter it again in Settings.');
    }
    return parsed as TokenFile;
  };

  return {
    protection: () => tokenProtection(safeStorage, platform),

    get() {
      const stored = read();
      if (!stored) return null;
      if (stored.protection === 'plaintext') return stored.data;
      try {
        return safeStorage.decryptString(Buffer.from(stored.data, 'base64'));
      } catch (error) {
        // The keychain changed or refused: ask the user again rather than guess.
        log.warn('stored token could not be decrypted', { error });
        return null;
      }
    },

    set(token) {
      const protection = tokenProtection(safeStorage, platform);
      const data = protection === 'os' ? safeStorage.encryptString(token).toString('base64') : token;
      if (protection === 'plaintext') log.warn('no OS secret store: the server token is stored unencrypted', { file });
      const body: TokenFile = { v: 1, protection, data };
      mkdirSync(dir, { recursive: true });
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify(body), { mode: 0o600 });
      chmodSync(temp, 0o600);
      renameSync(temp, file);
    },

    clear: () => rmSync(file, { force: true }),
  };
}
