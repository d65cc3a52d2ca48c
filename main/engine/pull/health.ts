import type { FerryError } from '../../../protocol/errors';

/**
 * An item the pull tries again within a second, once this device's own upload is answered or its
 * scan has recorded a change (`upload_in_flight`, `parent_gone`): a race between the two sides
 * of one device, not a failure to show in red (a new-user try saw such waits as failed pulls).
 */
export function waitsOnThisDevice(e: FerryError): boolean {
  return e.retryable && e.retryAfterSeconds !== undefined && e.retryAfterSeconds <= 1;
}

/**
 * What another device put in a folder renamed here to a name that cannot be synced waits for the
 * user's rename (docs/conflict-rules.md, "Renamed to a name that cannot be synced"): a wait, said
 * as one, not a failing pull. A pull's error has this code only when nothing else failed.
 */
export const WAITS_FOR_RENAME = 'parent_unsyncable';

/** A pull that failed only for waits on this device's own work (waitsOnThisDevice). */
export function passingPullError(error: unknown): boolean {
  return (error as FerryError | null)?.details?.passing === true;
}

/**
 * A pull that failed for nothing but a wait of a second on this device's own work: its items'
 * (passingPullError), or the whole run's (a full listing that waits for a create sent here,
 * `ownWait`; a server's short Retry-After is no such wait). No
 * failed pull to warn of (docs/conflict-rules.md, O3; a new-user try saw the run's one warned of).
 */
export function onlyWaitedOnThisDevice(error: unknown): boolean {
  return passingPullError(error) || (error as FerryError | null)?.details?.ownWait === true;
}

/** Failures of reaching the server at all (or of being taken by it): the link's to say. */
const LINK_FAILURE_CODES: ReadonlySet<string> = new Set(['offline', 'network', 'timeout', 'tls_untrusted', 'unauthorized', 'device_revoked']);

/**
 * A pull that waits for the server, told with the link's newest reason while it is down (a
 * new-user try read an old "unreachable (ECONNREFUSED)" beside the certificate's). Any other
 * failure (a folder refused, a root missing) is its own, as it was.
 */
export function withLinkReason(failure: PullFailure | null, link: { state: string; reason: string } | null): PullFailure | null {
  return failure && link && failure.untilOnline && LINK_FAILURE_CODES.has(failure.code) ? { ...failure, code: link.state, message: link.reason } : failure;
}

/** A folder's last failed pull: what failed, when, and when the puller tries again. */
export interface PullFailure {
  code: string;
  message: string;
  at: number;
  retryable: boolean;
  /** When the folder's pull loop runs again; null until it has scheduled its next try. */
  nextTryAt: number | null;
  /**
   * The server cannot be reached: the loop waits for it, not for a time (a next try kept from
   * before read as one in the past for as long as the server was down; a new-user try).
   */
  untilOnline?: boolean;
}

/**
 * A path the pulls did not bring here: its change failed to apply ('failed': the pull runs
 * again), or the pull left it as it is ('refused': an unsafe or invalid path, a local entry in
 * the way; the sync token moves on, so only a newer change of the path brings it).
 */
export interface PullPathNote {
  kind: 'failed' | 'refused';
  code: string;
  message: string;
  at: number;
}

/** What `why` reads of the pulls (docs/architecture.md, "Why a path is not in sync"). */
export interface PullHealthView {
  failure(folderId: string): PullFailure | null;
  note(folderId: string, path: string): PullPathNote | null;
  /** The paths the pull refused, oldest first (the device digest reports them as failing). */
  refusals(folderId: string): Array<{ path: string; code: string; message: string }>;
}

/** Notes kept per folder at most: a hostile feed of invalid paths must not grow memory without end. */
export const MAX_PATH_NOTES = 10_000;

/**
 * Why the pulls of each folder do not bring what the server holds, kept by the puller as it
 * runs: the last failure of each folder until a pull gets through, and the paths that failed
 * or were refused until a change of theirs is applied. In memory: after a restart the next
 * pull says it again (a refusal the token has moved past is then only in Activity).
 */
export class PullHealth implements PullHealthView {
  private readonly failures = new Map<string, PullFailure>();
  private readonly notes = new Map<string, Map<string, PullPathNote>>();
  private serverDown = false;

  failed(folderId: string, error: FerryError, at: number): void {
    this.failures.set(folderId, { code: error.code, message: error.message, at, retryable: error.retryable, nextTryAt: null, untilOnline: this.serverDown });
  }

  /** The folder's loop sleeps until `at` after its failure (while the server is down, until it answers). */
  retryAt(folderId: string, at: number): void {
    const failure = this.failures.get(folderId);
    if (failure && !this.serverDown) failure.nextTryAt = at;
  }

  /** Whether the server can be reached: while it cannot, every folder's next pull waits for it, at no set time. */
  linkChanged(online: boolean): void {
    this.serverDown = !online;
    for (const failure of this.failures.values()) Object.assign(failure, { nextTryAt: null, untilOnline: !online });
  }

  itemFailed(folderId: string, path: string, error: FerryError, at: number): void {
    this.put(folderId, path, { kind: 'failed', code: error.code, message: error.message, at });
  }

  refused(folderId: string, path: string, code: string, reason: string, at: number): void {
    this.put(folderId, path, { kind: 'refused', code, message: reason, at });
  }

  /** A change of the path was applied: whatever was noted of it is over. */
  applied(folderId: string, path: string): void {
    this.notes.get(folderId)?.delete(path);
  }

  /** A pull got through: the folder's failure and its items' failures are over (refusals stand). */
  succeeded(folderId: string): void {
    this.failures.delete(folderId);
    const notes = this.notes.get(folderId);
    if (notes) for (const [path, note] of notes) if (note.kind === 'failed') notes.delete(path);
  }

  failure(folderId: string): PullFailure | null {
    const failure = this.failures.get(folderId);
    return failure ? { ...failure } : null;
  }

  note(folderId: string, path: string): PullPathNote | null {
    return this.notes.get(folderId)?.get(path) ?? null;
  }

  refusals(folderId: string): Array<{ path: string; code: string; message: string }> {
    return [...(this.notes.get(folderId) ?? [])].filter(([, note]) => note.kind === 'refused').map(([path, note]) => ({ path, code: note.code, message: note.message }));
  }

  private put(folderId: string, path: string, note: PullPathNote): void {
    const notes = this.notes.get(folderId) ?? new Map<string, PullPathNote>();
    this.notes.set(folderId, notes);
    notes.delete(path);
    notes.set(path, note);
    // The oldest note goes first (a Map keeps insertion order).
    if (notes.size > MAX_PATH_NOTES) notes.delete(notes.keys().next().value!);
  }
}
