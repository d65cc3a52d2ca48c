import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FerryError, isFerryError } from '../../../protocol/errors';
import { isPairingCodeShape, type PairReply } from '../../../protocol';
import { SyncApiClient } from '../../remote';
import { clientTransport, type TransportSettings } from '../../remote/transport';
import { validateTransport } from './folder-rules';

/**
 * Pairing from the settings window (docs/sync-api.md, "Accounts and devices"): the one-time
 * code from `ferry server pair` is traded for this device's own token, which is then saved
 * like any token the user types (the host decides where: safeStorage in the desktop app, the
 * 0600 settings file headless). Neither the code nor the token is ever logged.
 */
export async function redeemPairingCode(input: TransportSettings & { serverUrl: string; code: string; deviceName?: string; previousToken?: string }): Promise<PairReply> {
  // The token this device used on that server before, if any, as the bearer: the server revokes
  // it once the new one is issued (docs/sync-api.md, "Accounts and devices").
  // Not the shape of a code: refused here, not sent (a new-user try's typo spent one of the
  // server's few failed attempts per address).
  if (!isPairingCodeShape(input.code)) {
    const message = 'That is not a pairing code: it reads like XXXX-XXXX-XXXX-XXXX (16 letters and digits), as `ferry server pair` prints it';
    throw new FerryError('pairing_code_invalid', message, { status: 400, details: { fields: { pairingCode: message } } });
  }
  const client = new SyncApiClient({ baseUrl: input.serverUrl, token: input.previousToken ?? '', deviceId: 'pairing', ...clientTransport(input.serverUrl, input) });
  try {
    return await client.pair({ code: input.code, deviceName: deviceNameOf(input.deviceName ?? os.hostname()) });
  } catch (error) {
    // A refused code is the form's pairingCode field: shown next to it, with the server's code.
    if (isFerryError(error) && error.code.startsWith('pairing_code_')) {
      throw new FerryError(error.code, error.message, { status: 400, details: { fields: { pairingCode: error.message } } });
    }
    // The pairing request carries no token: a 401 or 404 means it did not reach the pairing route
    // (a new-user try gave an address with a path and read "Missing or invalid token").
    if (isFerryError(error) && (error.status === 401 || error.status === 404) && error.code !== 'device_revoked') {
      const message = `${input.serverUrl} did not take the pairing request (${error.code}): give the server's address as \`ferry server\` prints it ("listening on …"), with no path after the port`;
      throw new FerryError('invalid_request', message, { status: 400, details: { fields: { serverUrl: message } } });
    }
    throw error;
  } finally {
    client.close();
  }
}

/** Which user and credential a pairing made this device, kept in the data directory. */
export const PAIRING_FILE = 'pairing.json';

export interface PairedAs {
  user: string;
  /** The server's id of this device's credential (the DEVICE column of `ferry server devices`). */
  credential: string;
}

const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Remembers whom a pairing signed this device in as, for the settings to show ("paired as ann").
 * It names the token by its SHA-256 only: a token typed in later is no pairing's, and says nothing.
 */
export function rememberPairing(dataDir: string, serverUrl: string, reply: Pick<PairReply, 'user' | 'deviceId' | 'token'>): void {
  const record = { serverUrl, user: reply.user, credential: reply.deviceId, tokenSha256: tokenHash(reply.token) };
  writeFileSync(path.join(dataDir, PAIRING_FILE), JSON.stringify(record), { mode: 0o600 });
}

/** The user and credential of the pairing that gave this server and token; null for any other. */
export function pairedAs(dataDir: string, serverUrl: string, token: string): PairedAs | null {
  if (token === '') return null;
  try {
    const record = JSON.parse(readFileSync(path.join(dataDir, PAIRING_FILE), 'utf8')) as Record<string, unknown>;
    if (record.serverUrl !== serverUrl || record.tokenSha256 !== tokenHash(token)) return null;
    return typeof record.user === 'string' && typeof record.credential === 'string' ? { user: record.user, credential: record.credential } : null;
  } catch {
    return null;
  }
}

/** The server takes 1-64 printable ASCII characters. */
export function deviceNameOf(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, '_').slice(0, 64) || 'device';
}

/**
 * "Connect with a pairing code": the settings as the form holds them, with the code in place
 * of a token. Checked before the code is spent, so a bad field does not use it up.
 */
export async function pairAndSave<I extends TransportSettings & { serverUrl: string; pairingCode: string; deviceName?: string }, V>(
  input: I,
  updateSettings: (update: Omit<I, 'pairingCode' | 'deviceName'> & { token: string }) => Promise<V>,
  current?: { serverUrl: string; token: string },
  onPaired?: (reply: PairReply) => void,
): Promise<V> {
  const { pairingCode, deviceName, ...settings } = input;
  validateTransport(settings);
  // Paired again with the same server: its earlier token goes along, and the server revokes it.
  const previousToken = current && current.serverUrl === settings.serverUrl && current.token !== '' ? current.token : undefined;
  const reply = await redeemPairingCode({ ...settings, code: pairingCode, ...(deviceName ? { deviceName } : {}), ...(previousToken ? { previousToken } : {}) });
  onPaired?.(reply);
  return updateSettings({ ...settings, token: reply.token });
}
