import type { HistoryItem, HistoryPage } from '../../../protocol';
import { DISK_FULL } from '../disk-full';
import type { PathExplanation, WhyReason } from './why';

/** The one read the server side of `why` needs: the newest entry of a path. */
export interface WhyRemote {
  historyPage(folderId: string, query: { path: string; limit?: number }): Promise<HistoryPage>;
}

/** How long `why` waits for the server before it answers with what this device knows. */
export const WHY_SERVER_TIMEOUT_MS = 2000;

/**
 * Adds what the server holds of the path to a local explanation (docs/architecture.md, "Why a
 * path is not in sync"): "not on the server yet", or "on the server at revision R written by
 * device D" when that is not what this device has (then the path is not in sync, whatever the
 * disk says), or the writer of the revision both have. Without an answer from the server (offline,
 * slow) the local explanation stands as it is. While the folder's pulls fail, a path the server
 * did not confirm this device has the newest of gets the failure as a reason (`pull_failed`).
 */
export async function withServerState(
  local: PathExplanation,
  remote: WhyRemote | null,
  remoteId: string,
  deviceName: (id: string) => string | Promise<string>,
  { paused = false, timeoutMs = WHY_SERVER_TIMEOUT_MS }: { paused?: boolean; timeoutMs?: number } = {},
): Promise<PathExplanation> {
  if (local.reasons.some((r) => r.code === 'ignored')) return local;
  const current = remote ? await newest(remote, remoteId, local.path, timeoutMs) : undefined;
  if (current === undefined) return withPullFailure(local, false);
  const writer = current ? await deviceName(current.device) : '';
  const reason = serverReason(local, current, () => writer, paused);
  const confirmed = current !== null && !current.deleted && current.revision === (local.synced?.revision ?? null);
  if (!reason) return withPullFailure(local, confirmed);
  const reasons = reason.replace ? [reason.reason, ...local.reasons.filter((r) => r.code !== 'in_sync' && r.code !== 'unknown')] : [...local.reasons, reason.reason];
  return withPullFailure({ ...local, reasons, inSync: reasons[0]!.code === 'in_sync' }, confirmed);
}

/**
 * PURE: the folder's failing pull as a reason of a path the server did not confirm this device
 * has the newest of (`confirmed`): said right after "on the server" (it is why the pull does not
 * bring it), first otherwise, in place of an "in sync" that only the local facts said.
 */
export function withPullFailure(answer: PathExplanation, confirmed: boolean): PathExplanation {
  const failure = answer.lastPullError;
  if (!failure || confirmed) return answer;
  const said = (code: WhyReason['code']) => answer.reasons.some((r) => r.code === code);
  // A path's own pull failure says it already; a full disk is said by disk_full.
  if (said('ignored') || said('pull_failed') || (failure.code === DISK_FULL && said('disk_full'))) return answer;
  const has = answer.synced?.revision ?? null;
  const reason: WhyReason = {
    code: 'pull_failed',
    message:
      `The folder's pulls fail, so the server's newest version may not be here${has !== null ? ` (this device has revision ${has})` : ''}: ` +
      `${failure.code}: ${failure.message} (last failed ${failure.at}; ${failure.retryable ? 'retryable' : 'not retryable: it fails until its cause is fixed'}; ` +
      // Not retryable, yet looked at again (a new-user try read "not retryable … next try" as a contradiction).
      `${failure.untilOnline ? 'next try once the server answers' : failure.nextTryAt !== null ? `${failure.retryable ? 'next try' : 'looked at again'} ${failure.nextTryAt}` : 'the pull runs again'})`,
  };
  const rest = answer.reasons.filter((r) => r.code !== 'in_sync');
  const onServer = rest.findIndex((r) => r.code === 'on_server');
  const at = onServer >= 0 ? onServer + 1 : rest.length === 0 || rest[0]!.code === 'unknown' ? 0 : rest.length;
  const reasons = [...rest.slice(0, at), reason, ...rest.slice(at)];
  return { ...answer, reasons, inSync: false };
}

/** PURE: the server's part of the answer, and whether it replaces an "in sync" or "unknown" said locally. */
export function serverReason(local: PathExplanation, current: HistoryItem | null, deviceName: (id: string) => string, paused = false): { reason: WhyReason; replace: boolean } | null {
  const has = local.synced?.revision ?? null;
  const saidInSync = local.reasons[0]?.code === 'in_sync';
  const unknown = local.reasons[0]?.code === 'unknown';
  if (current === null) {
    if (!local.local.exists) return null;
    // A name that cannot be synced never gets there: "not yet" would promise it will.
    if (local.reasons.some((r) => r.code === 'not_on_server' || r.code === 'unsyncable')) return null;
    return { reason: { code: 'not_on_server', message: 'Not on the server yet' }, replace: saidInSync };
  }
  const by = deviceName(current.device);
  if (current.revision === has && !current.deleted) {
    // Both have the same revision: say who wrote it.
    if (!saidInSync) return null;
    return { reason: { code: 'in_sync', message: `In sync: this device has the server's revision ${current.revision}, written by ${by}` }, replace: true };
  }
  // Moved away: said as the move it was, with where to (a new-user try read a rename as a delete).
  if (current.deleted && !local.local.exists && local.synced === null) {
    // Gone on both sides: nothing to sync.
    const both = current.movedTo !== undefined ? `In sync: moved to ${current.movedTo} on the server (revision ${current.revision}, by ${by}), and not here either` : `In sync: deleted on the server (revision ${current.revision}, by ${by}), and not here either`;
    return unknown ? { reason: { code: 'in_sync', message: both }, replace: true } : null;
  }
  // Found by a new-user try: a file deleted here, its delete held, read "this device has not got it".
  const mine = has ? `this device has revision ${has}` : local.deletedHere ? 'this device deleted it and has not sent the delete yet' : 'this device has not got it';
  const message = current.deleted
    ? `${current.movedTo !== undefined ? `Moved to ${current.movedTo}` : 'Deleted'} on the server at revision ${current.revision} by ${by}; ${mine}`
    : `On the server at revision ${current.revision} written by ${by}; ${mine}`;
  // Paused, the next pull waits for the resume (found by a new-user try: "the next pull brings it here", paused).
  const next = local.lastPullError ? ': the pull that would bring it here fails' : paused ? ': the next pull brings it here once you resume' : ': the next pull brings it here';
  return { reason: { code: 'on_server', message: `${message}${saidInSync || unknown ? next : ''}` }, replace: saidInSync || unknown };
}

/** The path's newest entry on the server, null when it has none, undefined without an answer. */
async function newest(remote: WhyRemote, remoteId: string, path: string, timeoutMs: number): Promise<HistoryItem | null | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    const page = await Promise.race([remote.historyPage(remoteId, { path, limit: 1 }).catch(() => undefined), timeout]);
    return page === undefined ? undefined : (page.items[0] ?? null);
  } finally {
    clearTimeout(timer);
  }
}
