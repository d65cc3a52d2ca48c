import type { AgentEvent } from './api';

type Listener = (event: AgentEvent) => void;

/**
 * Fans agent events out to the UI hosts. Status is coalesced to a few updates a second and
 * queue changes are batched by item, so a 10,000-file run does not flood the renderer.
 */
export class AgentEventBus {
  private readonly listeners = new Set<Listener>();
  private statusTimer: NodeJS.Timeout | null = null;
  private queueTimer: NodeJS.Timeout | null = null;
  private readonly changedItems = new Set<number>();

  constructor(
    private readonly sources: {
      status: () => Extract<AgentEvent, { type: 'status' }>['status'];
      queueItems: (ids: number[]) => Extract<AgentEvent, { type: 'queue' }>['items'];
      onListenerError: (error: unknown) => void;
    },
    private readonly intervalMs = 200,
  ) {}

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  emit(event: AgentEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.sources.onListenerError(error);
      }
    }
  }

  statusChanged(): void {
    if (this.statusTimer || this.listeners.size === 0) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = null;
      this.emit({ type: 'status', status: this.sources.status() });
    }, this.intervalMs);
    this.statusTimer.unref();
  }

  itemChanged(id: number): void {
    if (this.listeners.size === 0) return;
    this.changedItems.add(id);
    if (this.queueTimer) return;
    this.queueTimer = setTimeout(() => {
      this.queueTimer = null;
      const ids = [...this.changedItems];
      this.changedItems.clear();
      const items = this.sources.queueItems(ids);
      if (items.length) this.emit({ type: 'queue', items });
    }, this.intervalMs);
    this.queueTimer.unref();
  }

  close(): void {
    if (this.statusTimer) clearTimeout(this.statusTimer);
    if (this.queueTimer) clearTimeout(this.queueTimer);
    this.listeners.clear();
  }
}
