import { afterEach, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server-harness';
import { makeAgent, startPullServer, type Agent, type Writer } from './pull-harness';

// Activity shows what pulls did (main/engine/pull/activity-log.ts): downloads, files deleted
// here because the server deleted them, conflict copies and failed pulls. Before, nothing wrote
// the first three kinds, so downloads and remote deletes never appeared in Activity.
describe('pull activity', () => {
  let server: TestServer;
  let writer: Writer;
  let b: Agent | undefined;
  afterEach(async () => {
    await b?.close();
    b = undefined;
    writer?.client.close();
    await server?.close().catch(() => undefined);
  });

  const kinds = (agent: Agent) =>
    agent.folder.store.activity
      .recent({ limit: 100 })
      .reverse()
      .map((e) => `${e.kind} ${e.path ?? '-'}`);

  it('records downloads, deletes applied here, conflict copies and failed pulls', async () => {
    ({ server, writer } = await startPullServer());
    await writer.commit({ 'a.txt': 'alpha', 'dir/b.txt': 'bravo' });
    b = makeAgent(server, 'b');
    await b.puller.pullNow('fb');
    expect(kinds(b)).toEqual(expect.arrayContaining(['downloaded a.txt', 'downloaded dir/b.txt']));

    await writer.commit({ 'a.txt': null });
    await b.puller.pullNow('fb');
    expect(kinds(b)).toContain('deleted_remote a.txt');

    b.folder.write('dir/b.txt', 'local edit');
    await writer.commit({ 'dir/b.txt': 'remote edit' });
    await b.puller.pullNow('fb');
    expect(kinds(b)).toContain('conflict dir/b.txt');

    // The server gone is the agent's link to say, once each way (agent-states.test.ts): no pull
    // failure line for each try meanwhile. Other failures are said once each (pull-activity-log.test.ts).
    await server.close();
    await expect(b.puller.pullNow('fb')).rejects.toMatchObject({ code: 'offline' });
    await expect(b.puller.pullNow('fb')).rejects.toMatchObject({ code: 'offline' });
    expect(b.folder.store.activity.recent({ kind: 'pull_failed' })).toHaveLength(0);
  });
});
