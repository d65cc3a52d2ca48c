import { readFileSync } from 'node:fs';

/** Ferry's version, from package.json (`ferry --version`, and the version a device reports in its digest). */
export function ferryVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
