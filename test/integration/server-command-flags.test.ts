import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// `ferry server`'s own flags: help, and flags refused before any storage is opened. One run is
// enough (project `sqlite` only): nothing here depends on the backend. The command serving
// and stopping, on each backend: test/integration/server-restart.test.ts.

describe('ferry server command flags', () => {
  const entry = path.resolve(__dirname, '../helpers/server-cli-entry.ts');
  const run = (args: string[]) => spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = (child: ReturnType<typeof run>) => new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  it('prints help, and refuses bad flags with exit code 2', async () => {
    const help = run(['--help']);
    let out = '';
    help.stdout.on('data', (d: Buffer) => (out += d.toString()));
    expect(await exited(help)).toBe(0);
    expect(out).toContain('Usage: ferry server --data DIR');
    const bad = run(['--data', '/tmp/x', '--port', 'eighty']);
    let err = '';
    bad.stderr.on('data', (d: Buffer) => (err += d.toString()));
    expect(await exited(bad)).toBe(2);
    expect(err).toContain('--port must be an integer');
  });
});
