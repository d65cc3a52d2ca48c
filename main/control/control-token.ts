import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { FerryError } from '../../protocol/errors';
import { processAlive } from '../instance-lock';

/**
 * The files that let local clients find and authenticate to a running agent:
 * DIR/control-token (secret, mode 0600, kept across restarts) and DIR/agent.json
 * (pid and URL of the running agent; written at start, removed at clean stop).
 */
export const CONTROL_TOKEN_FILE = 'control-token';
/** The agent's saved settings in its data directory (the token among them: owner only). */
export const SETTINGS_FILE = 'settings.json';
export const AGENT_INFO_FILE = 'agent.json';

export const AgentInfo = z.object({
  pid: z.int().positive(),
  controlUrl: z.url(),
  startedAt: z.string(),
});
export type AgentInfo = z.infer<typeof AgentInfo>;

const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

/** Reads DIR/control-token, or undefined when there is none (or it is malformed). */
export async function readControlToken(dir: string): Promise<string | undefined> {
  try {
    const token = (await readFile(path.join(dir, CONTROL_TOKEN_FILE), 'utf8')).trim();
    return TOKEN_PATTERN.test(token) ? token : undefined;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Returns the existing control token or creates one (32 random bytes, hex, mode 0600). */
export async function ensureControlToken(dir: string): Promise<string> {
  const existing = await readControlToken(dir);
  const file = path.join(dir, CONTROL_TOKEN_FILE);
  if (existing) {
    // Tighten a file someone loosened; the token is as good as a password.
    await chmod(file, 0o600);
    return existing;
  }
  await mkdir(dir, { recursive: true });
  const token = randomBytes(32).toString('hex');
  await writeAtomically(file, token + '\n', 0o600);
  return token;
}

export async function writeAgentInfo(dir: string, info: AgentInfo): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeAtomically(path.join(dir, AGENT_INFO_FILE), JSON.stringify(AgentInfo.parse(info), null, 2) + '\n', 0o600);
}

/** The agent described by DIR/agent.json, or undefined when none is recorded or its process is gone. */
export async function readAgentInfo(dir: string): Promise<AgentInfo | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, AGENT_INFO_FILE), 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new FerryError('invalid_agent_info', `${path.join(dir, AGENT_INFO_FILE)} is not valid JSON`);
  }
  const info = AgentInfo.safeParse(parsed);
  if (!info.success) throw new FerryError('invalid_agent_info', `${path.join(dir, AGENT_INFO_FILE)} is malformed`);
  // A crashed agent leaves its file behind; a dead pid means nobody is listening.
  return processAlive(info.data.pid) ? info.data : undefined;
}

export async function removeAgentInfo(dir: string): Promise<void> {
  await rm(path.join(dir, AGENT_INFO_FILE), { force: true });
}

async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, content, { mode });
  await chmod(temp, mode);
  await rename(temp, file);
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
