/**
 * Child process for pull-crash.test.ts: pulls one folder slowly (each block is held a few
 * milliseconds) so the parent can kill -9 it midway.
 */
import { createPuller } from '../../main/engine/pull';
import { openStore } from '../../main/store';
import { SyncApiClient } from '../../main/remote';

const [dbFile, baseUrl, token] = process.argv.slice(2) as [string, string, string];
const store = openStore(dbFile);
const client = new SyncApiClient({ baseUrl, token, deviceId: 'device-b' });
const slow = {
  changesPage: client.changesPage.bind(client),
  waitForChanges: client.waitForChanges.bind(client),
  getBlock: async (hash: string, options?: { signal?: AbortSignal }) => {
    await new Promise((r) => setTimeout(r, 5));
    return client.getBlock(hash, options);
  },
};
const puller = createPuller({ store, remote: slow, device: { id: 'device-b', name: 'b' }, options: { downloadConcurrency: 1 } });
await puller.pullNow('fb');
process.stdout.write('finished\n');
process.exit(0);
