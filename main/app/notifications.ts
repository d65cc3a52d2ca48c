import path from 'node:path';
import { deleteOrigin, sentBeforeHoldLine } from '../../shared/pending-delete';
import type { AgentEvent, Status } from '../../shared/ui-contract';
import type { Logger } from '../logging';

/**
 * System notifications for what needs the user: conflicts, failures after retries, a paused
 * mass delete, coming back online. A burst (say 300 files failing while the server is down)
 * gives one notification, not 300: a key notifies again only after it was quiet for the gap.
 */

export type NoticeTarget = 'queue' | 'settings';

export interface Notice {
  /** Burst key: one notice per key per burst. */
  key: string;
  title: string;
  body: string;
  /** The window a click opens. */
  target: NoticeTarget;
}

export interface NotificationPolicyOptions {
  now: () => number;
  /** A burst ends after this long without an event of its key. */
  burstGapMs?: number;
}

export const DEFAULT_BURST_GAP_MS = 60_000;

export class NotificationPolicy {
  private readonly lastSeen = new Map<string, number>();
  private previous: Status | null = null;
  private readonly gap: number;

  constructor(private readonly options: NotificationPolicyOptions) {
    this.gap = options.burstGapMs ?? DEFAULT_BURST_GAP_MS;
  }

  /** The notices this event calls for (already deduplicated). */
  observe(event: AgentEvent): Notice[] {
    return this.candidates(event).filter((notice) => this.firstOfBurst(notice.key));
  }

  private firstOfBurst(key: string): boolean {
    const now = this.options.now();
    const last = this.lastSeen.get(key);
    this.lastSeen.set(key, now);
    return last === undefined || now - last > this.gap;
  }

  private candidates(event: AgentEvent): Notice[] {
    switch (event.type) {
      case 'activity': {
        const { entry } = event;
        if (entry.kind === 'conflict') {
          return [{ key: 'conflict', title: 'Sync conflict', body: entry.path ? `${entry.path}: ${entry.message}` : entry.message, target: 'queue' }];
        }
        if (entry.kind === 'failed') {
          return [{ key: 'failed', title: 'Some files could not be synced', body: entry.path ? `${entry.path}: ${entry.message}` : entry.message, target: 'queue' }];
        }
        return [];
      }
      case 'queue': {
        // Items reaching `failed` have used up their retries (or failed for good).
        const failed = event.items.find((item) => item.state === 'failed');
        if (!failed) return [];
        const reason = failed.error?.message ?? 'gave up after retrying';
        return [{ key: 'failed', title: 'Some files could not be synced', body: `${failed.path}: ${reason}`, target: 'queue' }];
      }
      case 'status':
        return this.statusNotices(event.status);
      case 'settings':
        return [];
    }
  }

  private statusNotices(status: Status): Notice[] {
    const previous = this.previous;
    this.previous = status;
    const notices: Notice[] = [];
    if (previous?.state === 'offline' && status.state !== 'offline') {
      notices.push({ key: 'online', title: 'Back online', body: 'Ferry reached the server again and is catching up.', target: 'queue' });
    }
    for (const folder of status.folders) {
      if (!folder.pendingDelete) continue;
      const before = previous?.folders.find((f) => f.id === folder.id);
      if (before?.pendingDelete) continue;
      const name = path.basename(folder.localPath) || folder.localPath;
      const { count, total } = folder.pendingDelete;
      const origin = deleteOrigin(folder.pendingDelete);
      const sentAlready = sentBeforeHoldLine(folder.pendingDelete);
      notices.push({
        key: `mass-delete:${folder.id}`,
        title: 'Deletion paused',
        body: `${count} of ${total} files in ${name} were deleted ${origin}${sentAlready ? `; ${sentAlready}` : ''}. Open the queue to confirm or cancel.`,
        target: 'queue',
      });
    }
    return notices;
  }
}

// ── Electron adapter ──

export interface NotificationElectron {
  isSupported(): boolean;
  /** Shows one notification; `onClick` when the user clicks it. */
  show(notice: Pick<Notice, 'title' | 'body'>, onClick: () => void): void;
}

export interface NotifierOptions {
  policy: NotificationPolicy;
  electron: NotificationElectron;
  /** Settings › notifications. */
  enabled(): boolean;
  open(target: NoticeTarget): void;
  log: Logger;
}

/** Feeds agent events through the policy; returns the listener to subscribe. */
export function createNotifier(options: NotifierOptions): (event: AgentEvent) => void {
  return (event) => {
    // The policy sees every event even while muted, so its transitions stay true.
    const notices = options.policy.observe(event);
    if (notices.length === 0 || !options.enabled() || !options.electron.isSupported()) return;
    for (const notice of notices) {
      options.log.info('notify', { key: notice.key });
      options.electron.show(notice, () => options.open(notice.target));
    }
  };
}
