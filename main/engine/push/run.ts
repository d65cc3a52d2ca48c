import { formatRunHeader } from '../../../protocol/common';

/**
 * A sync run: from the moment the pusher finds work until the queue is drained. Every
 * request of the run carries X-Ferry-Run `<name>;<ISO stamp>`, logged on both sides.
 */
export interface SyncRun {
  name: string;
  /** ISO-8601 start time. */
  stamp: string;
  startedAt: number;
  header: string;
}

let sequence = 0;

export function newRun(name: string, now: number): SyncRun {
  // The sequence keeps two runs in one ms apart.
  const header = formatRunHeader(name, new Date(now), { fallback: 'push', sequence: ++sequence });
  const [label = '', stamp = ''] = header.split(';');
  return { name: label, stamp, startedAt: now, header };
}
