import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { waitFor } from './wait';

/** The real `ferry` entry (bin/ferry.mjs) in child processes, as a user runs it. */
const bin = path.resolve(import.meta.dirname, '../../bin/ferry.mjs');

export interface RunningFerry {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The first stdout line matching the pattern, waited for with a deadline. */
  line(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnFerry(args: string[], env: Record<string, string> = {}, options: { cwd?: string; mergeStderr?: boolean } = {}): RunningFerry {
  // Merged, stderr goes into stdout's pipe as a terminal shows both: in the order written.
  const [command, argv] = options.mergeStderr ? ['/bin/sh', ['-c', 'exec "$0" "$@" 2>&1', process.execPath, bin, ...args]] : [process.execPath, [bin, ...args]];
  const child = spawn(command, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: { ...process.env, FERRY_LOG_LEVEL: 'warn', ...env },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => void (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => void (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let done = false;
  void exited.then(() => void (done = true));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    line: (pattern, timeoutMs = 20_000) =>
      waitFor(
        () => {
          if (done && !pattern.test(out)) throw new Error(`ferry ${args[0]} exited; stdout: ${out} stderr: ${err}`);
          return out.split('\n').map((l) => l.match(pattern)).find(Boolean);
        },
        { timeoutMs, message: `ferry ${args[0]} to print ${pattern}` },
      ) as Promise<RegExpMatchArray>,
    exited,
    async stop(signal = 'SIGTERM') {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}

/** Runs one `ferry` command to its end. */
export async function runFerry(args: string[], env: Record<string, string> = {}, options: { cwd?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = spawnFerry(args, env, options);
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}
