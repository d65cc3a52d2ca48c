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
  // printable ASCII only (the protocol's RunLabel); the sequence keeps two runs in one ms apart.
  const safe = name.replace(/[^\x21-\x3a\x3c-\x7e]/g, '_').slice(0, 64) || 'push';
  const label = `${safe}-${++sequence}`;
  const stamp = new Date(now).toISOString();
  return { name: label, stamp, startedAt: now, header: `${label};${stamp}` };
}
