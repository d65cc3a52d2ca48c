import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PairReply } from '../../protocol';
import { ensurePrivateDir } from '../private-files';
import type { TransportSettings } from '../remote/transport';
import { redeemPairingCode, rememberPairing } from '../engine/agent/pairing';
import { SqlAccounts, USER_NAME_PATTERN } from '../../server/accounts';
import { openSqliteMetadata } from '../../server/storage/db';
import { writePrivateJson } from './agent-host';
import { SETTINGS_FILE } from './control-token';

/**
 * Pairing an agent with a server that has accounts (docs/sync-api.md, "Accounts and devices"):
 * the one-time code from `ferry server pair` is traded for this device's own token, which is
 * kept with the saved settings (DIR/settings.json, mode 0600) and never printed or logged.
 */
export async function pairWithServer(options: TransportSettings & { dataDir: string; serverUrl: string; code: string; deviceName?: string }): Promise<PairReply> {
  // The pairing request is the one the server takes without a token; a token this data
  // directory holds for the same server goes with it, so the server ends that old credential.
  const saved = await savedSettings(options.dataDir);
  const previousToken = saved.serverUrl === options.serverUrl && typeof saved.token === 'string' ? saved.token : undefined;
  const reply = await redeemPairingCode({ ...options, ...(previousToken ? { previousToken } : {}) });
  // The CA and the insecure-http choice belong to this server: later starts need them too.
  const transport = { ...(options.caFile !== undefined ? { caFile: options.caFile } : {}), ...(options.allowInsecureHttp ? { allowInsecureHttp: true } : {}) };
  await rememberServerToken(options.dataDir, options.serverUrl, reply.token, transport);
  rememberPairing(options.dataDir, options.serverUrl, reply);
  return reply;
}

/** Saves the server and token with the agent's saved settings, keeping every other field. */
export async function rememberServerToken(dataDir: string, serverUrl: string, token: string, transport: TransportSettings = {}): Promise<void> {
  const saved = await savedSettings(dataDir);
  ensurePrivateDir(dataDir);
  await writePrivateJson(path.join(dataDir, SETTINGS_FILE), { ...saved, serverUrl, token, ...transport });
}

/** The agent's saved settings as an object (empty when there are none yet). */
async function savedSettings(dataDir: string): Promise<Record<string, unknown>> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path.join(dataDir, SETTINGS_FILE), 'utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return {};
}

/**
 * `ferry start` pairs its agent with its own embedded server: the local user gets an account
 * (and every folder created before accounts existed), the agent a device token through the
 * real pairing request. A device token the agent saved before is kept while it still works.
 */
export async function pairWithEmbeddedServer(options: { serverDir: string; serverUrl: string; dataDir: string; savedToken: unknown; userName?: string }): Promise<string> {
  const db = openSqliteMetadata(options.serverDir);
  try {
    const accounts = new SqlAccounts(db);
    if (typeof options.savedToken === 'string') {
      const device = await accounts.deviceByToken(options.savedToken);
      if (device && device.revokedAt === null) return options.savedToken;
    }
    const name = embeddedUserName(options.userName);
    if (!(await accounts.user(name))) await accounts.addUser(name);
    await accounts.adoptUnownedFolders(name);
    const { code } = await accounts.createPairingCode(name);
    return (await pairWithServer({ dataDir: options.dataDir, serverUrl: options.serverUrl, code })).token;
  } finally {
    await db.close();
  }
}

/** The OS user's name when it makes a valid account name, else `me`. */
function embeddedUserName(given?: string): string {
  let name = given;
  if (name === undefined) {
    try {
      name = os.userInfo().username;
    } catch {
      name = 'me';
    }
  }
  return USER_NAME_PATTERN.test(name) ? name : 'me';
}
