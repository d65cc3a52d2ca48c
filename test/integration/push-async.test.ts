import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait';
import { TaskGate } from '../helpers/server-harness';
import { pushRig, syncPosts, type PushRig } from './push-harness';

describe('pusher: async tasks', () => {
  let rig: PushRig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it('goes async above the threshold, polls the task and forgets it once applied', async () => {
    rig = await pushRig({ options: { asyncThreshold: 5, batchMaxOps: 50, lingerMs: 5000 }, start: false });
    for (let i = 0; i < 20; i++) {
      await rig.write(`a${i}.txt`, `a${i}`);
      await rig.enqueue(`a${i}.txt`);
    }
    await rig.pusher.start();
    await waitFor(() => rig!.store.queue.countsByState().done === 20);
    const posts = syncPosts(rig);
    expect(posts.length).toBeGreaterThanOrEqual(1);
    expect(posts.every((p) => p.query === 'mode=async')).toBe(true);
    expect(rig.proxy.requests({ method: 'GET', path: /^\/v1\/tasks\// }).length).toBeGreaterThanOrEqual(1);
    expect(rig.store.tasks.list()).toEqual([]);
  });

  it('after a restart polls the persisted task instead of resubmitting it', async () => {
    const gate = new TaskGate();
    rig = await pushRig({ options: { asyncThreshold: 1 }, server: { hooks: { beforeApply: gate.hook } } });
    await rig.write('t.txt', 'task');
    await rig.enqueue('t.txt');
    rig.pusher.kick();
    // The task is persisted before any waiting; the server holds it Processing.
    const [task] = await waitFor(() => (rig!.store.tasks.list().length === 1 ? rig!.store.tasks.list() : undefined));
    await waitFor(() => gate.held.has(task!.taskId));
    expect(task!.items).toHaveLength(1);

    await rig.restart();
    const postsBefore = syncPosts(rig).length;
    const polledBefore = rig.proxy.requests({ method: 'GET', path: `/v1/tasks/${task!.taskId}` }).length;
    await rig.pusher.start();
    // Still held by the task after the restart, not claimed again.
    expect(rig.item('t.txt').state).toBe('in_flight');
    await waitFor(() => rig!.proxy.requests({ method: 'GET', path: `/v1/tasks/${task!.taskId}` }).length > polledBefore);
    gate.release();
    await rig.waitState('t.txt', 'done');
    expect(syncPosts(rig).length).toBe(postsBefore);
    expect(rig.store.tasks.list()).toEqual([]);
    const remote = await rig.remote();
    expect(rig.store.index.get('f1', 't.txt')?.syncedRevision).toBe(remote.get('t.txt')?.revision);
  });
});
