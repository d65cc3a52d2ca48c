import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FerryError, type DeviceReport } from '../../protocol';
import { createLogger } from '../../main/logging';
import { openStore, type Store } from '../../main/store';
import { DeviceReporter } from '../../main/engine/agent/device-report';
import { realTimers } from '../../main/engine/timers';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';
import { fakeLogger } from '../fakes/app-fakes';

// Found by review: the digest's later keys (unsyncableCount, massDeleteHeld) are refused by a
// server from before them (its report schema takes no unknown key); the report kept them and was
// refused for as long as the state lasted, "last seen" going stale on the other devices.
describe('device reports to a server from before their later keys', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let store: Store;
  beforeEach(() => {
    tmp = makeTempDir();
    store = openStore(path.join(tmp.dir, 'state.db'));
    store.folders.add({ id: 'docs', localRoot: tmp.dir, remoteId: 'docs' });
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  /** A server that refuses unknown keys as the reference server before them did (`strict`). */
  function oldServer() {
    const received: DeviceReport[] = [];
    const known = new Set(['name', 'version', 'syncToken', 'pending', 'failedCount', 'failures', 'folderError', 'paused']);
    return {
      received,
      reportDevice: async (_folder: string, report: DeviceReport) => {
        // Its words, as zod's strict object said them through the server's inputError.
        const unknown = Object.keys(report).find((key) => !known.has(key));
        if (unknown !== undefined) throw new FerryError('invalid_request', `Invalid device report: Unrecognized key: "${unknown}"`, { status: 400 });
        received.push(report);
        return {};
      },
    };
  }

  it('sends the report again without them once refused, and sends them no more to that server', async () => {
    const server = oldServer();
    const reporter = new DeviceReporter({
      store,
      remote: () => server,
      device: { name: 'laptop', version: 'ferry/test' },
      unsyncable: () => [{ path: 'tab\there.txt' }],
      timers: realTimers,
      log: createLogger('test'),
      intervalMs: 0,
    });
    try {
      expect(reporter.build('docs')).toMatchObject({ failedCount: 1, unsyncableCount: 1 });
      reporter.schedule('docs');
      await waitFor(() => server.received.length === 1, { timeoutMs: 5000, message: 'the report got through' });
      // Refused: no report at all while the folder holds such a name. The count stays in failedCount.
      expect(server.received[0]).toMatchObject({ failedCount: 1 });
      expect(server.received[0]!.unsyncableCount).toBeUndefined();
      reporter.schedule('docs');
      await waitFor(() => server.received.length === 2, { timeoutMs: 5000, message: 'the next report got through' });
      expect(server.received[1]!.unsyncableCount).toBeUndefined();
    } finally {
      reporter.stop();
    }
  });

  it('does not take another refusal for one of them', async () => {
    let calls = 0;
    const log = fakeLogger();
    const reporter = new DeviceReporter({
      store,
      remote: () => ({
        reportDevice: async () => {
          calls++;
          throw new FerryError('invalid_request', 'Invalid device report: name: Too big', { status: 400 });
        },
      }),
      device: { name: 'laptop', version: 'ferry/test' },
      unsyncable: () => [{ path: 'tab\there.txt' }],
      timers: realTimers,
      log,
      intervalMs: 0,
    });
    try {
      reporter.schedule('docs');
      await waitFor(() => log.entries.some((e) => e.message === 'device report not sent'), { timeoutMs: 5000, message: 'the send ended' });
      // One try, not a second one without the keys: the refusal named none of them.
      expect(calls).toBe(1);
    } finally {
      reporter.stop();
    }
  });
});
