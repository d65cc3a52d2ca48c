import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

/** A fresh temp directory per test, removed by cleanup(). */
export function makeTempDir(prefix = 'ferry-local-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Temp directories for the tests of one describe block: call it there, then the function it
 * returns in a test for a fresh directory; each is removed after its test.
 */
export function tempDirsEachTest(prefix: string): () => string {
  const made: Array<() => void> = [];
  afterEach(() => made.splice(0).forEach((cleanup) => cleanup()));
  return () => {
    const t = makeTempDir(prefix);
    made.push(t.cleanup);
    return t.dir;
  };
}

/** An empty folder per named device under one fresh temp directory; `onCleanup` gets its removal. */
export function deviceFolders(names: readonly string[], onCleanup: (cleanup: () => void) => void): Array<{ name: string; root: string }> {
  const { dir, cleanup } = makeTempDir('ferry-devices-');
  onCleanup(cleanup);
  return names.map((name) => {
    const root = path.join(dir, name);
    mkdirSync(root);
    return { name, root };
  });
}

/** A clock tests move by hand. */
export function manualClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void; set: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (ms) => void (t = ms) };
}
