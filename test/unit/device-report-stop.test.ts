import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FerryError, type DeviceReport } from '../../protocol';
import { openStore, type Store } from '../../main/store';
import { DeviceReporter, STOP_REPORT_MS } from '../../main/engine/agent/device-report';
import { makeTempDir } from '../helpers/local-temp';
import { fakeLogger } from '../fakes/app-fakes';
import { FakeTimers, flush } from './push-fake-timers';

// Found by a new-user try: a device whose agent was quit read "up to date" on the others for three
// minutes. A clean stop's last report says it stopped, best effort within a short deadline.
describe("the device report of a clean stop", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let store: Store;
  beforeEach(() => {
    tmp = makeTempDir();
    store = openStore(path.join(tmp.dir, 'state.db'));
    store.folders.add({ id: 'docs', localRoot: tmp.dir, remoteId: 'docs-remote' });
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  /** A server that takes each report when the test lets it: `answer()` settles the oldest. */
  function heldServer() {
    const calls: Array<{ folder: string; report: DeviceReport; signal: AbortSignal | undefined; settle: () => void }> = [];
    return {
      calls,
      reportDevice: (folder: string, report: DeviceReport, call?: { signal?: AbortSignal }) =>
        new Promise<{ wantedBlocks?: string[] }>((resolve, reject) => {
          const settle = () => resolve({});
          call?.signal?.addEventListener('abort', () => reject(new FerryError('aborted', 'Request aborted')));
          calls.push({ folder, report, signal: call?.signal, settle });
        }),
    };
  }

  function reporter(server: ReturnType<typeof heldServer>, timers: FakeTimers, log = fakeLogger()) {
    return new DeviceReporter({ store, remote: () => server, device: { name: 'laptop', version: 'ferry/test' }, timers, log, intervalMs: 0 });
  }

  it('sends each folder its report saying it stopped, and ends as soon as the server took it', async () => {
    const server = heldServer();
    const timers = new FakeTimers();
    let done = false;
    const stopping = reporter(server, timers).reportStopped(['docs']).then(() => (done = true));
    await flush();
    expect(server.calls).toHaveLength(1);
    expect(server.calls[0]).toMatchObject({ folder: 'docs-remote', report: { name: 'laptop', stopped: true, pending: 0 } });
    expect(done).toBe(false);
    server.calls[0]!.settle();
    await stopping;
    // Its deadline timer went with it.
    expect(timers.count).toBe(0);
  });

  it('does not wait past its deadline for a server that does not answer, cutting its request off', async () => {
    const server = heldServer();
    const timers = new FakeTimers();
    const log = fakeLogger();
    let done = false;
    const stopping = reporter(server, timers, log).reportStopped(['docs'], 800).then(() => (done = true));
    await flush();
    expect(server.calls).toHaveLength(1);
    await timers.advance(799);
    expect(done).toBe(false);
    await timers.advance(1);
    await stopping;
    expect(server.calls[0]!.signal?.aborted).toBe(true);
    expect(log.entries.some((e) => e.message.includes('did not take the report that this device stopped in time'))).toBe(true);
    // The default deadline is a short one: a quit is never held for long.
    expect(STOP_REPORT_MS).toBeLessThanOrEqual(2000);
  });

  it('goes after a report already on its way, so that none lands after it and clears it', async () => {
    const server = heldServer();
    const timers = new FakeTimers();
    const r = reporter(server, timers);
    r.schedule('docs');
    await timers.advance(0);
    expect(server.calls).toHaveLength(1);
    expect(server.calls[0]!.report.stopped).toBeUndefined();
    const stopping = r.reportStopped(['docs']);
    await flush();
    // The stop waits for the report on its way before it sends its own.
    expect(server.calls).toHaveLength(1);
    server.calls[0]!.settle();
    await flush();
    expect(server.calls).toHaveLength(2);
    expect(server.calls[1]!.report.stopped).toBe(true);
    server.calls[1]!.settle();
    await stopping;
  });

  it('never throws: a server that refuses it, or none at all', async () => {
    const timers = new FakeTimers();
    const refusing = {
      reportDevice: async () => {
        throw new FerryError('device_revoked', 'signed out', { status: 401 });
      },
    };
    const log = fakeLogger();
    await new DeviceReporter({ store, remote: () => refusing, device: { name: 'laptop', version: 'ferry/test' }, timers, log }).reportStopped(['docs']);
    expect(log.entries.some((e) => e.message === 'the report that this device stopped was not sent')).toBe(true);
    await new DeviceReporter({ store, remote: () => null, device: { name: 'laptop', version: 'ferry/test' }, timers, log }).reportStopped(['docs']);
  });

  it('sends it again without the key to a server from before it (its report schema takes no unknown key)', async () => {
    const timers = new FakeTimers();
    const received: DeviceReport[] = [];
    const oldServer = {
      reportDevice: async (_folder: string, report: DeviceReport) => {
        const unknown = Object.keys(report).find((key) => !['name', 'version', 'syncToken', 'pending', 'failedCount', 'failures'].includes(key));
        if (unknown !== undefined) throw new FerryError('invalid_request', `Invalid device report: Unrecognized key: "${unknown}"`, { status: 400 });
        received.push(report);
        return {};
      },
    };
    await new DeviceReporter({ store, remote: () => oldServer, device: { name: 'laptop', version: 'ferry/test' }, timers, log: fakeLogger() }).reportStopped(['docs']);
    expect(received).toHaveLength(1);
    expect(received[0]!.stopped).toBeUndefined();
  });
});
