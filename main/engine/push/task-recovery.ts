import { asFerryError } from '../../../protocol/errors';
import type { AsyncTask } from '../../store/tasks';
import type { PushFolder, PushStore } from './api';
import { parseOpKey, type CommitOutcome } from './committer';
import type { ItemOutcomes } from './outcomes';
import { fakeItem, newWork, type Work } from './work';

export interface TaskRecoveryDeps {
  store: PushStore;
  folders: (folderId: string) => PushFolder | undefined;
  /** Polls the persisted task again (never resubmits it). */
  resume: (task: AsyncTask) => Promise<CommitOutcome>;
  outcomes: ItemOutcomes;
  /** The task's items are held without a claim. */
  hold: (n: number) => void;
  startRun: () => void;
  signal: () => AbortSignal;
  applyResults: (works: Work[], outcome: CommitOutcome) => Promise<void>;
}

/**
 * An async task persisted before a restart: its items stay held (recoverInFlight skipped
 * them), the task is polled to its end and its results applied like a fresh batch's.
 */
export async function resumeTask(d: TaskRecoveryDeps, task: AsyncTask): Promise<void> {
  const held: Work[] = [];
  const folder = d.folders(task.folderId);
  for (const ti of task.items) {
    const key = parseOpKey(ti.opKey);
    if (!key) continue;
    const item = d.store.queue.get(ti.queueId) ?? fakeItem(task.folderId, ti.path, key);
    const ref = { id: ti.queueId, generation: key.generation, op: key.op };
    held.push(newWork({ ...item, path: ti.path, op: key.op, generation: key.generation }, folder, ref, task.folderId));
  }
  d.hold(held.length);
  d.startRun();
  let outcome;
  try {
    outcome = await d.resume(task);
  } catch (error) {
    if (d.signal().aborted) return;
    // Not resubmittable from here (the exact body is gone): the items queue again.
    const e = asFerryError(error);
    d.store.transaction(() => {
      for (const w of held) d.outcomes.retryLater(w, e.code, e.message);
      d.store.tasks.remove(task.taskId);
    });
    for (const w of held) d.outcomes.release(w);
    return;
  }
  await d.applyResults(held, outcome);
}
