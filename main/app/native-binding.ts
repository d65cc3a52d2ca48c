import path from 'node:path';

/**
 * better-sqlite3 inside Electron must load the addon built for Electron's ABI, not Node's.
 * Packaged: electron-builder copies it to resources/native (extraResources); in development
 * scripts/native.mjs builds it into <repo>/native/electron (scripts/lib.mjs agrees).
 */
export interface NativeBindingContext {
  packaged: boolean;
  /** process.resourcesPath */
  resourcesPath: string;
  /** The repository root (development). */
  appRoot: string;
}

export function nativeBindingPath(context: NativeBindingContext): string {
  return context.packaged
    ? path.join(context.resourcesPath, 'native', 'better_sqlite3.node')
    : path.join(context.appRoot, 'native', 'electron', 'better_sqlite3.node');
}
