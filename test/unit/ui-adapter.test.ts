import { describe, expect, it } from 'vitest';
import { ActivityEntry as ContractActivity, AgentEvent, QueuePage } from '../../shared/ui-contract';
import type { AgentApi, AgentEvent as EngineEvent, AgentHandlers } from '../../main/engine/agent';
import type { ActivityEntry } from '../../main/store/activity';
import type { QueueItem } from '../../main/store/queue';
import { toAgentService } from '../../main/ui-adapter/agent-service';

// The adapter is where the engine's terms become the UI contract's: every answer and event
// it produces must pass the contract's own schemas.
const T = Date.UTC(2026, 0, 2, 3, 4, 5);

function storedItem(overrides: Partial<QueueItem> = {}): QueueItem {
  return {
    id: 1, folderId: 'docs', path: 'a/b.txt', kind: 'file', op: 'upsert', state: 'retry_wait', priority: 0, generation: 3,
    inFlightGeneration: null, attempts: 2, nextAttemptAt: T + 1000, lastErrorCode: 'unavailable', lastErrorMessage: 'HTTP 503',
    bytesDone: 10, bytesTotal: 20, size: 20, mtimeMs: T, contentHash: null, blocks: null, baseRevision: null, moveFrom: null, moveHash: null, createSent: false, enqueuedAt: T, updatedAt: T,
    ...overrides,
  };
}

const activity = (kind: string, id = 1): ActivityEntry => ({ id, ts: T, folderId: 'docs', kind, path: 'a/b.txt', message: kind });

function fakeEngine(items: QueueItem[], entries: ActivityEntry[]) {
  const listeners = new Set<(event: EngineEvent) => void>();
  const handlers = {
    listQueue: async () => ({ items, total: items.length }),
    listActivity: async () => entries,
  } as Partial<AgentHandlers> as AgentHandlers;
  const api: AgentApi = { handlers, subscribe: (l) => (listeners.add(l), () => listeners.delete(l)) };
  return { api, emit: (event: EngineEvent) => listeners.forEach((l) => l(event)) };
}

describe('the UI adapter', () => {
  it('answers queue pages in the contract shape: ISO times, directory ops named, the error folded', async () => {
    const moving = storedItem({ id: 3, kind: 'dir', path: 'projects/beta', moveFrom: 'projects/alpha', state: 'pending', lastErrorCode: null });
    const engine = fakeEngine([storedItem(), storedItem({ id: 2, kind: 'dir', op: 'delete', state: 'done', lastErrorCode: null }), moving], []);
    const page = QueuePage.parse(await toAgentService(engine.api).handlers.listQueue({ offset: 0, limit: 10 }));
    expect(page.items[0]).toMatchObject({ op: 'upsert', nextAttemptAt: new Date(T + 1000).toISOString(), error: { code: 'unavailable', message: 'HTTP 503' } });
    expect(page.items[0]!.movedFrom).toBeUndefined();
    expect(page.items[1]).toMatchObject({ op: 'rmdir', nextAttemptAt: null, error: null });
    // A folder's rename is a move from where it was, not a "mkdir" (a new user's try).
    expect(page.items[2]).toMatchObject({ op: 'move', movedFrom: 'projects/alpha', path: 'projects/beta' });
  });

  it("groups the engine's activity words into the UI's kinds", async () => {
    const words = ['downloaded', 'deleted_remote', 'deleted_local', 'pull_failed', 'conflict', 'skipped_symlink', 'mass_delete_paused', 'moved_remote', 'moved_local'];
    const engine = fakeEngine([], words.map((w, i) => activity(w, i + 1)));
    const entries = (await toAgentService(engine.api).handlers.listActivity({ limit: 10 })).map((e) => ContractActivity.parse(e));
    expect(entries.map((e) => e.kind)).toEqual(['downloaded', 'deleted', 'deleted', 'failed', 'conflict', 'skipped', 'info', 'moved', 'moved']);
  });

  it('turns engine events into contract events', () => {
    const engine = fakeEngine([], []);
    const seen: unknown[] = [];
    const off = toAgentService(engine.api).subscribe((event) => seen.push(AgentEvent.parse(event)));
    engine.emit({ type: 'queue', items: [storedItem()] });
    engine.emit({ type: 'activity', entry: activity('downloaded') });
    off();
    engine.emit({ type: 'activity', entry: activity('uploaded') });
    expect(seen).toMatchObject([
      { type: 'queue', items: [{ id: 1, updatedAt: new Date(T).toISOString() }] },
      { type: 'activity', entry: { kind: 'downloaded', at: new Date(T).toISOString() } },
    ]);
  });
});
