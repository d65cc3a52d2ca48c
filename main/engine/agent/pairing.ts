import os from 'node:os';
import { FerryError, isFerryError } from '../../../protocol/errors';
import type { PairReply } from '../../../protocol';
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
  const client = new SyncApiClient({ baseUrl: input.serverUrl, token: input.previousToken ?? '', deviceId: 'pairing', ...clientTransport(input.serverUrl, input) });
  try {
    return await client.pair({ code: input.code, deviceName: deviceNameOf(input.deviceName ?? os.hostname()) });
  } catch (error) {
    // A refused code is the form's pairingCode field: shown next to it, with the server's code.
    if (isFerryError(error) && error.code.startsWith('pairing_code_')) {
      throw new FerryError(error.code, error.message, { status: 400, details: { fields: { pairingCode: error.message } } });
    }
    throw error;
  } finally {
    client.close();
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
): Promise<V> {
  const { pairingCode, deviceName, ...settings } = input;
  validateTransport(settings);
  // Paired again with the same server: its earlier token goes along, and the server revokes it.
  const previousToken = current && current.serverUrl === settings.serverUrl && current.token !== '' ? current.token : undefined;
  const reply = await redeemPairingCode({ ...settings, code: pairingCode, ...(deviceName ? { deviceName } : {}), ...(previousToken ? { previousToken } : {}) });
  return updateSettings({ ...settings, token: reply.token });
}
