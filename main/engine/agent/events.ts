import type { AgentEvent } from './api';

type Listener = (event: AgentEvent) => void;
type EventType = AgentEvent['type'];

/**
 * Fans agent events out to the UI hosts. Status is coalesced to a few updates a second and
 * queue changes are batched by item, so a 10,000-file run does not flood the renderer. An
 * event nobody subscribed to is never built: a headless agent that only prints its state
 * reads no queue rows back for events nobody wants.
 */
export class AgentEventBus {
  /** Each listener and the event types it wants (null: all). */
  private readonly listeners = new Map<Listener, ReadonlySet<EventType> | null>();
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

  /** `types`: the events the listener gets (all of them when left out). */
  subscribe(listener: Listener, types?: readonly EventType[]): () => void {
    this.listeners.set(listener, types ? new Set(types) : null);
    return () => void this.listeners.delete(listener);
  }

  emit(event: AgentEvent): void {
    for (const [listener, types] of this.listeners) {
      if (types && !types.has(event.type)) continue;
      try {
        listener(event);
      } catch (error) {
        this.sources.onListenerError(error);
      }
    }
  }

  statusChanged(): void {
    if (this.statusTimer || !this.wanted('status')) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = null;
      this.emit({ type: 'status', status: this.sources.status() });
    }, this.intervalMs);
    this.statusTimer.unref();
  }

  itemChanged(id: number): void {
    if (!this.wanted('queue')) return;
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

  private wanted(type: EventType): boolean {
    for (const types of this.listeners.values()) if (!types || types.has(type)) return true;
    return false;
  }

  close(): void {
    if (this.statusTimer) clearTimeout(this.statusTimer);
    if (this.queueTimer) clearTimeout(this.queueTimer);
    this.listeners.clear();
  }
}
