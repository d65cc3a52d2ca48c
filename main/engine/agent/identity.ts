import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Store } from '../../store';
import { readStoredSetting } from '../../store/settings';

/**
 * This device's identity, kept in its state database: the id it commits under (made once) and
 * its name. A name given (`ferry agent --device-name`) is kept with the id, so a later start
 * without it keeps it (found by a new-user try: it came back as the host name, and the
 * server's history named the device's own versions after a machine it did not know).
 */
export function deviceIdentity(store: Pick<Store, 'settings'>, givenName: string | undefined): { deviceId: string; deviceName: string } {
  let deviceId = store.settings.get(DEVICE_ID_KEY);
  if (!deviceId) {
    deviceId = randomUUID();
    store.settings.set(DEVICE_ID_KEY, deviceId);
  }
  if (givenName && store.settings.get(DEVICE_NAME_KEY) !== givenName) store.settings.set(DEVICE_NAME_KEY, givenName);
  return { deviceId, deviceName: givenName || (store.settings.get(DEVICE_NAME_KEY) ?? os.hostname()) };
}

/** The name this data directory's agent goes by (given once with --device-name), before it runs. */
export function storedDeviceName(stateDb: string): string | undefined {
  return readStoredSetting(stateDb, DEVICE_NAME_KEY);
}

const DEVICE_ID_KEY = 'device_id';
const DEVICE_NAME_KEY = 'device_name';
