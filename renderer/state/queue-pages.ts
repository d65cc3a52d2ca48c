import type { QueueItem, QueuePage } from '../../shared/ui-contract';

/**
 * A sparse window onto a queue too large to load: pages fetched by offset as the list
 * scrolls, patched in place by `queue` events, refetched (visible pages only) when the
 * queue's membership may have changed. Plain class so its logic is testable without React.
 */
export type FetchPage = (offset: number, limit: number) => Promise<QueuePage>;

interface Page {
  items: QueueItem[];
  generation: number;
}

export class QueuePages {
  private readonly pages = new Map<number, Page>();
  private readonly loading = new Map<number, number>();
  private readonly listeners = new Set<() => void>();
  private generation = 0;
  private countsKey: string | undefined;
  private visible: [number, number] = [0, 0];
  /** Items matching the filter, as of the newest page answer; undefined until the first. */
  total: number | undefined;
  /** Bumped on every change, for React's useSyncExternalStore. */
  version = 0;
  error: string | undefined;

  constructor(
    private readonly fetchPage: FetchPage,
    readonly pageSize = 200,
  ) {}

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  itemAt(index: number): QueueItem | undefined {
    return this.pages.get(Math.floor(index / this.pageSize))?.items[index % this.pageSize];
  }

  /** The rows [first, last] are on screen: make sure their pages are (being) loaded. */
  showRange(first: number, last: number): void {
    this.visible = [first, Math.max(first, last)];
    for (const page of this.visiblePages()) {
      const held = this.pages.get(page);
      if (!held || held.generation < this.generation) this.load(page);
    }
  }

  /** Applies changed items to loaded rows (state, progress, error) without refetching. */
  patch(items: QueueItem[]): void {
    const byId = new Map(items.map((item) => [item.id, item]));
    let changed = false;
    for (const page of this.pages.values()) {
      page.items = page.items.map((item) => {
        const update = byId.get(item.id);
        if (!update) return item;
        changed = true;
        return update;
      });
    }
    if (changed) this.notify();
  }

  /**
   * The agent's per-state counts, from a status event: true when they differ from the last
   * ones seen, i.e. items may have moved in or out of this list and visible pages need a
   * refetch. The first counts seen count as a change too: this list's first page may have
   * been answered before whatever those counts already include.
   */
  noteCounts(counts: Record<string, number>): boolean {
    const key = JSON.stringify(counts);
    if (key === this.countsKey) return false;
    this.countsKey = key;
    return true;
  }

  /** The queue changed shape (items added, removed or moved between states): reload what is visible. */
  invalidate(): void {
    this.generation += 1;
    const keep = new Set(this.visiblePages());
    for (const page of [...this.pages.keys()]) if (!keep.has(page)) this.pages.delete(page);
    this.showRange(...this.visible);
  }

  private visiblePages(): number[] {
    const [first, last] = this.visible;
    const lastIndex = this.total === undefined ? last : Math.min(last, Math.max(0, this.total - 1));
    const pages: number[] = [];
    for (let page = Math.floor(first / this.pageSize); page <= Math.floor(lastIndex / this.pageSize); page++) pages.push(page);
    return pages;
  }

  private load(page: number): void {
    if (this.loading.get(page) === this.generation) return;
    const generation = this.generation;
    this.loading.set(page, generation);
    this.fetchPage(page * this.pageSize, this.pageSize).then(
      (result) => {
        if (this.loading.get(page) === generation) this.loading.delete(page);
        const held = this.pages.get(page);
        if (held && held.generation > generation) return;
        this.pages.set(page, { items: result.items, generation });
        if (generation === this.generation) this.total = result.total;
        this.error = undefined;
        this.notify();
        if (generation < this.generation && this.visiblePages().includes(page)) this.load(page);
      },
      (error: unknown) => {
        if (this.loading.get(page) === generation) this.loading.delete(page);
        this.error = error instanceof Error ? error.message : String(error);
        this.notify();
      },
    );
  }

  private notify(): void {
    this.version += 1;
    for (const listener of [...this.listeners]) listener();
  }
}
