import os from 'node:os';
import path from 'node:path';
import { isFerryError } from '../../../protocol/errors';
import { agentUnreachableHint, connectToAgent } from '../control-client';
import type { ControlClient } from '../control-client';
import { EXIT_FAILURE, printError, usageError } from './args';

/**
 * The agent's data directory: --data, else $FERRY_HOME, else ~/.ferry (as `ferry start` uses). An
 * empty $FERRY_HOME is no directory (a new-user try's `FERRY_HOME=` put the data in the working directory).
 */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? (env.FERRY_HOME || path.join(os.homedir(), '.ferry')));
}
import type { CommandIo } from './args';

/**
 * Connects to the agent named by --data and runs one action against it. Every failure ends
 * as one readable line on stderr (with field problems, if any) and exit code 1; with --json,
 * as one JSON object on stderr: `{ "error": { code, message, retryable, fields? } }`.
 */
export async function withAgent(
  def: { name: string },
  flags: { data?: string | undefined; json?: boolean | undefined },
  io: CommandIo,
  action: (client: ControlClient) => Promise<number>,
): Promise<number> {
  if (flags.data === '') return usageError(def, io, '--data needs a directory', flags.json).code;
  const dir = resolveDataDir(flags.data);
  try {
    const client = await connectToAgent(dir);
    return await action(client);
  } catch (error) {
    if (!isFerryError(error)) throw error;
    const fields = error.details?.fields as Record<string, string> | undefined;
    const message = error.code === 'agent_unreachable' ? `${error.message}: ${agentUnreachableHint(dir)}` : error.message;
    const lines = [error.code === 'agent_not_running' ? message : `ferry ${def.name}: ${message} (${error.code})`];
    for (const [field, text] of Object.entries(fields ?? {})) lines.push(`  ${field}: ${text}`);
    printError(io, { code: error.code, message, retryable: error.retryable, ...(fields ? { fields } : {}) }, flags.json ?? false, lines.join('\n'));
    return EXIT_FAILURE;
  }
}
