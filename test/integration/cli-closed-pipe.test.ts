import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// `ferry … | head -1` (a new-user try): the reader went away before the output ended, and the
// command died with a stack trace ("Unhandled 'error' event", write EPIPE). Refused here: the
// trace and a failing exit code. A real process writing to a real pipe whose reader closes it.
describe('output into a pipe closed early', () => {
  it('ends the command quietly, with its own exit code', async () => {
    const cli = path.join(__dirname, '../../main/control/cli.ts');
    const script = `const { quietOnClosedPipe } = await import(${JSON.stringify(cli)}); quietOnClosedPipe();
      for (let i = 0; i < 200000; i++) process.stdout.write('line ' + i + ' of a long listing\\n');
      process.exitCode = 0;`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // As `head -1` does: read the first bytes, then close the pipe.
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(first.startsWith('line 0 of a long listing')).toBe(true);
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });
});
