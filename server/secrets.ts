import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Reads a secret file, or creates it (mode 0600) with a fresh random value. */
export async function loadOrCreateSecret(file: string, bytes = 32): Promise<{ value: string; created: boolean }> {
  try {
    const value = (await fs.readFile(file, 'utf8')).trim();
    if (value.length > 0) return { value, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // Hex: a token that began with '-' (one base64url token in 64) could not be passed as
  // `--token VALUE`, which option parsers read as a missing value.
  const value = randomBytes(bytes).toString('hex');
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, value + '\n', { mode: 0o600 });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, file);
  return { value, created: true };
}

export const TOKEN_FILE_NAME = 'token';
export const SECRET_FILE_NAME = 'server-secret';
