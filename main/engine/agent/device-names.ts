import type { DeletedItem, HistoryItem } from '../../../protocol';
import { deviceLabel, distinctName } from '../../../shared/device-words';

/** A history entry with its writer's name. */
export type NamedHistoryItem = HistoryItem & { deviceName: string };
/** A deleted path with the names of who deleted it and who wrote its last live version. */
export type NamedDeletedItem = Omit<DeletedItem, 'lastLive'> & { deviceName: string; lastLive: NamedHistoryItem | null };

/**
 * Device ids (what the server records as a revision's writer) to the names their agents report
 * in their device digests (docs/sync-api.md, "Devices"), for history, deleted files, conflicts
 * and `why`. Read from the server at most every `maxAgeMs`; an id no digest names (an expired
 * entry, a server that cannot be reached) keeps its short label.
 */
export class DeviceNames {
  private readonly names = new Map<string, string>();
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | null = null;
  /**
   * When an id no digest named was last looked up, and the gap before the next look: it starts at
   * UNKNOWN_READ_GAP_MS and doubles up to UNKNOWN_READ_MAX_GAP_MS. An Undo offer names its devices
   * for a day: an id no digest will ever name again (an expired report) is not asked for every
   * 2 s of it (found by review).
   */
  private readonly missed = new Map<string, { at: number; gap: number }>();

  constructor(
    private readonly o: {
      self: { id: string; name: string };
      /** Every device the server's digests list, over all folders. */
      list: () => Promise<Array<{ device: string; name: string }>>;
      /** A read named a device no name was known for: what shows it by id can say it again. */
      onLearned?: () => void;
      now?: () => number;
      maxAgeMs?: number;
    },
  ) {
    this.names.set(o.self.id, o.self.name);
  }

  /** The name of `id` as last read; a short form of the id when no digest names it. */
  label(id: string): string {
    if (id === '') return 'an unknown device';
    const name = this.names.get(id);
    if (name === undefined) return deviceLabel(id);
    return distinctName({ device: id, name }, [...this.names].map(([device, n]) => ({ device, name: n })));
  }

  /** Names learnt elsewhere (a device listing the user asked for). */
  learn(devices: ReadonlyArray<{ device: string; name: string }>): void {
    for (const d of devices) if (d.name) this.names.set(d.device, d.name);
    this.names.set(this.o.self.id, this.o.self.name);
  }

  /** The name of `id`, reading the digests again first when none names it (a device new since the last read). */
  async resolve(id: string, waitMs: number): Promise<string> {
    if (this.unknownDue(id)) await this.refreshWithin(waitMs, 0);
    return this.label(id);
  }

  /** True (and noted) when no digest names `id` and its gap since the last look (2 s, doubling to 10 min) has passed. */
  private unknownDue(id: string): boolean {
    const now = (this.o.now ?? Date.now)();
    if (id === '' || this.names.has(id)) return false;
    const last = this.missed.get(id);
    if (last && now - last.at < last.gap) return false;
    this.missed.set(id, { at: now, gap: last ? Math.min(last.gap * 2, UNKNOWN_READ_MAX_GAP_MS) : UNKNOWN_READ_GAP_MS });
    return true;
  }

  /** Reads the names again when they are older than `maxAgeMs`; never throws. */
  async refresh(maxAgeMs = this.o.maxAgeMs ?? 30_000): Promise<void> {
    const now = (this.o.now ?? Date.now)();
    if (now - this.readAt < maxAgeMs) return;
    this.reading ??= this.o
      .list()
      .then((devices) => {
        const known = this.names.size;
        this.learn(devices);
        this.readAt = (this.o.now ?? Date.now)();
        if (this.names.size > known) this.o.onLearned?.();
      })
      .catch(() => undefined)
      .finally(() => {
        this.reading = null;
      });
    await this.reading;
  }

  /** refresh(), waiting at most `ms` for it (the answer goes out with the names known by then). */
  async refreshWithin(ms: number, maxAgeMs?: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.refresh(maxAgeMs), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /**
   * A held pull-side delete, and its Undo offer, name the devices that deleted by their names. The status is read
   * synchronously and often: a device no digest named yet is looked up in the background, and
   * named from the next read on (it showed as "device fa12d35f" until something else read them).
   */
  hold<T extends { devices: string[] }>(pending: T | null): T | null {
    if (!pending || pending.devices.length === 0) return pending;
    if (pending.devices.map((d) => this.unknownDue(d)).includes(true)) void this.refresh(0);
    return { ...pending, devices: pending.devices.map((d) => this.label(d)) };
  }

  /** Reads the names again, briefly, when one of `ids` is not known yet (a pull's Activity lines name them). */
  async know(ids: readonly string[]): Promise<void> {
    if (ids.map((id) => this.unknownDue(id)).includes(true)) await this.refreshWithin(KNOW_WAIT_MS, 0);
  }

  /** Each version with its writer's name beside the id. */
  async history(items: readonly HistoryItem[]): Promise<NamedHistoryItem[]> {
    await this.refreshWithin(NAMES_WAIT_MS);
    return items.map((item) => ({ ...item, deviceName: this.label(item.device) }));
  }

  /** Each deleted path with the deleting device's name, and its last live version's writer. */
  async deleted(items: readonly DeletedItem[]): Promise<NamedDeletedItem[]> {
    await this.refreshWithin(NAMES_WAIT_MS);
    return items.map((item) => ({
      ...item,
      deviceName: this.label(item.device),
      lastLive: item.lastLive ? { ...item.lastLive, deviceName: this.label(item.lastLive.device) } : null,
    }));
  }
}

/** An id no digest named is looked up again at most this often at first (each id on its own)... */
const UNKNOWN_READ_GAP_MS = 2000;
/** ...and at most this often once it stayed unnamed a while. */
const UNKNOWN_READ_MAX_GAP_MS = 10 * 60_000;
/** How long a listing waits for the names before it answers with the ids' short forms. */
const NAMES_WAIT_MS = 1500;
/** How long a pull waits for names before its Activity lines use the ids' short forms. */
const KNOW_WAIT_MS = 500;
