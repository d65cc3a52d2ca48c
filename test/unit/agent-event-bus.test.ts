import { describe, expect, it } from 'vitest';
import { AgentEventBus } from '../../main/engine/agent/events';
import type { AgentEvent } from '../../main/engine/agent/api';

function bus() {
  const reads: number[][] = [];
  const b = new AgentEventBus(
    {
      status: () => ({ state: 'idle' }) as unknown as Extract<AgentEvent, { type: 'status' }>['status'],
      queueItems: (ids) => {
        reads.push(ids);
        return ids.map((id) => ({ id }) as unknown as Extract<AgentEvent, { type: 'queue' }>['items'][number]);
      },
      onListenerError: (error) => {
        throw error;
      },
    },
    5,
  );
  return { b, reads };
}

const until = async (check: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('AgentEventBus', () => {
  it('builds no queue event while only status is wanted: no queue row is read back', async () => {
    const { b, reads } = bus();
    const got: AgentEvent[] = [];
    b.subscribe((e) => got.push(e), ['status']);
    for (let id = 1; id <= 100; id++) b.itemChanged(id);
    b.statusChanged();
    await until(() => got.length === 1);
    expect(got[0]!.type).toBe('status');
    expect(reads).toEqual([]);
    b.close();
  });

  it('a listener without types gets every event; one with types only its own', async () => {
    const { b, reads } = bus();
    const all: AgentEvent[] = [];
    const statusOnly: AgentEvent[] = [];
    b.subscribe((e) => all.push(e));
    b.subscribe((e) => statusOnly.push(e), ['status']);
    b.itemChanged(7);
    b.itemChanged(8);
    b.emit({ type: 'activity', entry: {} as Extract<AgentEvent, { type: 'activity' }>['entry'] });
    await until(() => all.some((e) => e.type === 'queue'));
    expect(reads).toEqual([[7, 8]]);
    expect(all.map((e) => e.type).sort()).toEqual(['activity', 'queue']);
    expect(statusOnly).toEqual([]);
    b.close();
  });
});
