import type { Connectivity } from './offline';

/**
 * retry_wait: a try failed with a retryable error; the item waits (nextAttemptAt, code,
 * message) and the queue shows it so. retrying: the wait of an item retried in place is over
 * and its next try runs (in_flight again, one more attempt). An item waiting in the queue
 * comes back through the claim loop instead (uploading / committing).
 */
export type PushItemState = 'uploading' | 'committing' | 'done' | 'superseded' | 'retry_wait' | 'failed' | 'requeued' | 'retrying';

export interface ItemEvent {
  id: number;
  folderId: string;
  path: string;
  op: 'upsert' | 'delete';
  state: PushItemState;
  code?: string;
  message?: string;
  revision?: string | null;
  /** For retry_wait: when the next attempt is due (ms since epoch). */
  nextAttemptAt?: number;
}

export interface ItemProgressEvent {
  id: number;
  folderId: string;
  path: string;
  bytesDone: number;
  bytesTotal: number;
}

export interface RunProgressEvent {
  run: string;
  stamp: string;
  /** False on the last event of a run (the queue drained). */
  active: boolean;
  itemsDone: number;
  itemsFailed: number;
  itemsInFlight: number;
  bytes: number;
  /** Upload rate over the run so far, bytes/s. */
  rate: number;
  itemsPerSecond: number;
  elapsedMs: number;
}

export interface ConflictEvent {
  folderId: string;
  path: string;
  currentRevision: string | null;
}

export interface PusherEvents {
  item: ItemEvent;
  itemProgress: ItemProgressEvent;
  run: RunProgressEvent;
  connectivity: { state: Connectivity; reason?: string };
  conflict: ConflictEvent;
}

type Listener<T> = (event: T) => void;

/** A typed event map; a throwing listener is logged by the caller, never breaks the pusher. */
export class Emitter<E extends object> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  on<K extends keyof E>(name: K, listener: Listener<E[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener as Listener<never>);
    return () => void set.delete(listener as Listener<never>);
  }

  has(name: keyof E): boolean {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }

  emit<K extends keyof E>(name: K, event: E[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const l of set) {
      try {
        (l as Listener<E[K]>)(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
