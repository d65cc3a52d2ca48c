import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FerryError } from '../../protocol/errors';

/**
 * Where `ferry server` and `ferry agent` take a token from. `--token` on the command line is
 * visible to every local user (`ps`), so it still works but warns; `--token-file FILE` and an
 * environment variable are the ways to pass one without showing it (README, "Using Ferry").
 */
export interface TokenSources {
  flag: string | undefined;
  file: string | undefined;
  /** The environment variable's name and value. */
  env: { name: string; value: string | undefined };
  /** What the warning calls the command, e.g. `ferry agent`. */
  command: string;
  /** What to do when the --token-file does not exist (where a token comes from for this command). */
  whenMissing?: string;
}

export interface ResolvedToken {
  token: string | undefined;
  warnings: string[];
}

export function resolveToken(s: TokenSources): ResolvedToken {
  if (s.flag !== undefined && s.file !== undefined) throw tokenError('give either --token or --token-file, not both');
  if (s.file !== undefined) return { token: readTokenFile(s.file, s.whenMissing), warnings: [] };
  if (s.flag !== undefined) {
    return {
      token: s.flag,
      warnings: [`${s.command}: --token shows the token to every user of this machine (ps); use --token-file FILE or ${s.env.name} instead`],
    };
  }
  const fromEnv = s.env.value?.trim();
  return { token: fromEnv ? fromEnv : undefined, warnings: [] };
}

function readTokenFile(file: string, whenMissing: string | undefined): string {
  let text: string;
  try {
    text = readFileSync(path.resolve(file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' && whenMissing ? ` (no such file: ${whenMissing})` : '';
    throw tokenError(`cannot read --token-file ${file}: ${code ?? String(error)}${hint}`);
  }
  // One token, usually followed by a newline: `echo TOKEN > file` must just work.
  const token = text.trim();
  if (token === '' || /\s/.test(token)) throw tokenError(`--token-file ${file} must hold the token alone, on one line`);
  return token;
}

function tokenError(message: string): FerryError {
  return new FerryError('invalid_request', message, { details: { usage: true } });
}
