import { describe, expect, it } from 'vitest';
import { ConnectionWatch, REVOKED_REASON, linkProblemOf, type Link } from '../../main/engine/agent/connection';
import { agentStateOf, busyReason, loadLastSync, saveLastSync, settingsWarnings } from '../../main/engine/agent/status-parts';
import { pullErrorLine, withPullsRefused } from '../../main/engine/agent/status';
import { FerryError } from '../../protocol/errors';
import { transportError } from '../../main/remote/errors';
import { withLinkReason } from '../../main/engine/pull';

const refused = () => new FerryError('offline', 'Sync server unreachable (ECONNREFUSED)', { retryable: true });
const unauthorized = () => new FerryError('unauthorized', 'Missing or invalid token', { status: 401 });

/** Timers the test fires by hand. */
function handTimers() {
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  return {
    setTimeout: (fn: () => void, ms: number) => (pending.set(next, { fn, ms }), next++),
    clearTimeout: (h: unknown) => void pending.delete(h as number),
    delays: () => [...pending.values()].map((p) => p.ms),
    fire() {
      const entries = [...pending.entries()];
      pending.clear();
      for (const [, p] of entries) p.fn();
    },
  };
}

describe('linkProblemOf', () => {
  it('tells a refused token from an unreachable server, and ignores other failures', () => {
    expect(linkProblemOf(unauthorized())?.state).toBe('auth_failed');
    expect(linkProblemOf(refused())).toEqual({ state: 'offline', reason: 'Sync server unreachable (ECONNREFUSED)' });
    expect(linkProblemOf(new FerryError('conflict', 'stale base', { status: 409 }))).toBeNull();
    expect(linkProblemOf(new FerryError('aborted', 'Request aborted'))).toBeNull();
  });
});

describe('ConnectionWatch', () => {
  function watch(probe: () => Promise<unknown> = async () => undefined) {
    const timers = handTimers();
    const changes: Link[] = [];
    const w = new ConnectionWatch({ probe, onChange: (l) => void changes.push(l), timers, baseMs: 100, capMs: 400 });
    return { w, timers, changes };
  }

  it('turns auth_failed on a 401, offline on ECONNREFUSED, and online on the next answer', () => {
    const { w, changes } = watch();
    w.failed(unauthorized());
    expect(w.current.state).toBe('auth_failed');
    w.failed(refused());
    expect(w.current.state).toBe('offline');
    // A 404 is an answer with the token accepted: the link is fine.
    w.failed(new FerryError('not_found', 'no such folder', { status: 404 }));
    expect(w.current).toEqual({ state: 'online' });
    expect(changes.map((c) => c.state)).toEqual(['auth_failed', 'offline', 'online']);
  });

  it('says a revoked device was signed out and must be paired again', () => {
    const problem = linkProblemOf(new FerryError('device_revoked', 'signed out', { status: 401 }));
    expect(problem).toEqual({ state: 'auth_failed', reason: REVOKED_REASON });
    expect(REVOKED_REASON).toMatch(/signed out.*pair it again/);
  });

  // A new-user try: a long poll sent before a revoke ended 200 after it, and the link read online
  // ("accepts this computer again") while the device was still signed out.
  it('an answer to a request sent before the link went down does not bring it back', () => {
    const { w } = watch();
    const sentBefore = performance.now();
    w.failed(new FerryError('device_revoked', 'revoked', { status: 401 }));
    expect(w.current.state).toBe('auth_failed');
    w.answered(sentBefore);
    w.failed(new FerryError('not_found', 'no such folder', { status: 404 }), sentBefore);
    expect(w.current.state).toBe('auth_failed');
    w.answered(performance.now());
    expect(w.current.state).toBe('online');
  });

  // A new-user try: the server came back speaking plain HTTP to an https:// address, and the link
  // read "unreachable (ECONNREFUSED)" for a minute more.
  it('while down, takes the newest failure to reach the server as its reason; online, a reset alone does not turn it', () => {
    const { w } = watch();
    const plainHttp = transportError(Object.assign(new Error('write EPROTO 80AC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), { code: 'EPROTO' }));
    w.failed(plainHttp);
    expect(w.current).toEqual({ state: 'online' });
    w.failed(refused());
    w.failed(plainHttp);
    expect(w.current).toEqual({ state: 'offline', reason: 'The server at this address does not speak HTTPS (EPROTO): use an http:// address, or start the server with --tls-cert and --tls-key' });
    // Signed out, a connection reset does not turn it into offline: the refusal stands (a review).
    w.failed(unauthorized());
    w.failed(new FerryError('network', 'Network error (ECONNRESET): socket hang up', { retryable: true }));
    expect(w.current.state).toBe('auth_failed');
  });

  it("a pull that waits for the server says the link's reason; a failure of its own keeps its words", () => {
    const failure = { code: 'offline', message: 'Sync server unreachable (ECONNREFUSED)', at: 1, retryable: true, nextTryAt: null, untilOnline: true };
    const link = { state: 'offline', reason: 'The certificate of sync.example.org is not signed by a CA this computer trusts (DEPTH_ZERO_SELF_SIGNED_CERT): give the CA file that signed it with --ca FILE (caFile in settings)' };
    expect(withLinkReason(failure, link)).toMatchObject({ code: 'offline', message: link.reason, at: 1 });
    expect(withLinkReason({ ...failure, code: 'not_found', message: "Folder 'docs' not found", retryable: false }, link)).toMatchObject({ code: 'not_found', message: "Folder 'docs' not found" });
    expect(withLinkReason(failure, null)).toBe(failure);
  });

  it('a 5xx says nothing about the link', () => {
    const { w } = watch();
    w.failed(refused());
    w.failed(new FerryError('internal', 'boom', { status: 500 }));
    expect(w.current.state).toBe('offline');
  });

  it('probes with backoff while not online and stops once online', async () => {
    let probes = 0;
    const { w, timers } = watch(async () => {
      probes++;
      throw refused();
    });
    w.failed(refused());
    expect(timers.delays()).toEqual([100]);
    timers.fire();
    await Promise.resolve();
    await Promise.resolve();
    expect(probes).toBe(1);
    expect(timers.delays()).toEqual([200]);
    w.answered();
    expect(timers.delays()).toEqual([]);
  });
});

describe('busyReason: syncing always names why', () => {
  const none = { counts: { pending: 0, in_flight: 0 }, pusherHolds: 0, pullsRunning: 0, scanning: [] as string[] };
  it('is null (idle) when nothing moves, and names each kind of work, the queue first', () => {
    expect(busyReason(none)).toBeNull();
    expect(busyReason({ ...none, counts: { pending: 2, in_flight: 1 } })).toBe('Sending 1 change to the server');
    expect(busyReason({ ...none, counts: { pending: 2, in_flight: 0 } })).toBe('2 changes wait to be sent');
    // Held by the pusher with no queue row in flight: said, so that a stuck one can be told.
    expect(busyReason({ ...none, pusherHolds: 3 })).toBe('Finishing 3 changes the server has not answered yet');
    expect(busyReason({ ...none, scanning: ['docs'], pullsRunning: 1 })).toBe('Looking through folder docs for changes');
    expect(busyReason({ ...none, pullsRunning: 1 })).toBe('Bringing in changes from the server');
    expect(busyReason({ ...none, pullsRunning: 1, incoming: 3 })).toBe('Bringing in 3 changes from the server');
    // Grouped as the web UI groups them (a review read "1234 changes" in the terminal).
    expect(busyReason({ ...none, counts: { pending: 1234, in_flight: 0 } })).toBe('1,234 changes wait to be sent');
  });
});

describe('agentStateOf', () => {
  const folders = [{ id: 'docs', state: 'ok' as const, error: null, pendingDelete: null }];
  it('puts pause, then the link, then folders first, each with its reason', () => {
    expect(agentStateOf({ paused: true, link: { state: 'offline', reason: 'x' }, folders, busy: 'Sending 1 change to the server' }).state).toBe('paused');
    expect(agentStateOf({ paused: false, link: { state: 'auth_failed', reason: 'refused' }, folders, busy: 'Sending 1 change to the server' })).toEqual({ state: 'auth_failed', reason: 'refused' });
    const broken = [{ id: 'docs', state: 'error' as const, error: 'The folder /x is missing', pendingDelete: null }];
    expect(agentStateOf({ paused: false, link: { state: 'online' }, folders: broken, busy: null })).toEqual({ state: 'error', reason: 'Folder docs: The folder /x is missing' });
    const full = [{ id: 'docs', state: 'disk_full' as const, error: 'The disk holding /x is full', pendingDelete: null }];
    expect(agentStateOf({ paused: false, link: { state: 'online' }, folders: full, busy: 'Sending 1 change to the server' })).toEqual({ state: 'error', reason: 'Folder docs: The disk holding /x is full' });
    expect(agentStateOf({ paused: false, link: { state: 'online' }, folders, busy: 'Sending 1 change to the server' })).toEqual({ state: 'syncing', reason: 'Sending 1 change to the server' });
    expect(agentStateOf({ paused: false, link: { state: 'online' }, folders, busy: null })).toEqual({ state: 'idle', reason: null });
  });

  // A new user's try: one folder not made yet put the whole agent in "error", beside a README that
  // says such a folder is accepted with a warning.
  it('a folder not made yet keeps the agent waiting for it, not in error; one that went missing is an error', () => {
    const unmade = [{ id: 'docs', state: 'error' as const, error: 'The folder /x does not exist yet: it syncs on its own once it is created', pendingDelete: null }];
    const online = { state: 'online' as const };
    expect(agentStateOf({ paused: false, link: online, folders: unmade, busy: null })).toEqual({ state: 'waiting', reason: `Folder docs: ${unmade[0]!.error}` });
    expect(agentStateOf({ paused: false, link: online, folders: [...unmade, ...folders.map((f) => ({ ...f, id: 'pics' }))], busy: 'Sending 1 change to the server' }).state).toBe('syncing');
    const gone = [{ ...unmade[0]!, error: 'The folder /x is missing (unmounted or moved?)' }];
    expect(agentStateOf({ paused: false, link: online, folders: gone, busy: null }).state).toBe('error');
  });

  it("says when a failing pull tries again in seconds from now, never an instant past; a folder's root problems say it in its own error", () => {
    const failure = { code: 'unavailable', message: 'feed under maintenance', at: 1_000, retryable: true, nextTryAt: 11_000 };
    expect(pullErrorLine(failure, 6_000)).toBe('unavailable: feed under maintenance (last failed 5 s ago, next try in 5 s)');
    expect(pullErrorLine(failure, 12_000)).toMatch(/, trying again now\)$/);
    // When it last failed, as "next try in 5 s" beside it reads: not an ISO time (a new-user try), unless a day or more ago.
    expect(pullErrorLine(failure, 3_000)).toMatch(/^unavailable: feed under maintenance \(last failed just now,/);
    expect(pullErrorLine({ ...failure, nextTryAt: null }, 1_000 + 180_000)).toBe('unavailable: feed under maintenance (last failed 3 min ago)');
    expect(pullErrorLine({ ...failure, nextTryAt: null }, 1_000 + 2 * 86_400_000)).toBe('unavailable: feed under maintenance (last failed 1970-01-01T00:00:01.000Z)');
    // The server down: no try is due at a time, the pull waits for the server.
    expect(pullErrorLine({ ...failure, nextTryAt: null, untilOnline: true }, 12_000)).toBe('unavailable: feed under maintenance (last failed 11 s ago, tried again once the server answers)');
    expect(pullErrorLine({ ...failure, code: 'folder_root_missing' }, 6_000)).toBeNull();
    // Nor a folder without its marker, nor another folder's: the folder's error says it, once.
    expect(pullErrorLine({ ...failure, code: 'folder_marker_missing' }, 6_000)).toBeNull();
    expect(pullErrorLine({ ...failure, code: 'folder_marker_mismatch' }, 6_000)).toBeNull();
    // A new-user try read "not retryable, next try in 3 s": one that fails until its cause is fixed says so.
    const refused = { ...failure, code: 'not_found', message: "Folder 'docs' not found", retryable: false };
    expect(pullErrorLine(refused, 6_000)).toBe("not_found: Folder 'docs' not found (last failed 5 s ago, it fails until its cause is fixed, looked at again in 5 s)");
    // Such a folder is in error (the agent too), not "ok" and "idle"; a retryable failure leaves it ok.
    const ok = { state: 'ok' as const, error: null };
    const broken = withPullsRefused(ok, refused);
    expect(broken).toEqual({ state: 'error', error: "Pulls are refused: not_found: Folder 'docs' not found (removed there, or another user's folder not shared with this device's user; folder ids are one namespace on the server, so a folder of your own needs another remote id)" });
    expect(agentStateOf({ paused: false, link: { state: 'online' as const }, folders: [{ id: 'docs', pendingDelete: null, ...broken }], busy: null })).toEqual({ state: 'error', reason: "Folder docs: Pulls are refused: not_found: Folder 'docs' not found (removed there, or another user's folder not shared with this device's user; folder ids are one namespace on the server, so a folder of your own needs another remote id)" });
    expect(withPullsRefused(ok, failure)).toBe(ok);
    expect(withPullsRefused({ state: 'paused_mass_delete' as const, error: null }, refused).state).toBe('paused_mass_delete');
  });

  it('names a held bulk delete as waiting for the user, with whose delete it is, not as an error', () => {
    const pending = { count: 40, total: 50, side: 'pull' as const, sample: ['a.txt'], devices: ['dev-b'] };
    const held = [{ id: 'docs', state: 'paused_mass_delete' as const, error: null, pendingDelete: pending }];
    expect(agentStateOf({ paused: false, link: { state: 'online' }, folders: held, busy: null })).toEqual({
      state: 'waiting',
      reason: 'Folder docs: 40 of 50 files were deleted by dev-b; the deletion waits for your answer',
    });
    const local = [{ ...held[0]!, pendingDelete: { ...pending, side: 'scan' as const, devices: [] } }];
    expect(agentStateOf({ paused: false, link: { state: 'online' }, folders: local, busy: 'Sending 1 change to the server' }).reason).toContain('40 of 50 files were deleted on this computer');
  });
});

describe('last sync and settings warnings', () => {
  it('keeps the last sync per folder through the settings store', () => {
    const kv = new Map<string, string>();
    const store = { get: (k: string) => kv.get(k), set: (k: string, v: string) => void kv.set(k, v) };
    saveLastSync(store, new Map([['docs', 1_700_000_000_000]]));
    expect(loadLastSync(store)).toEqual(new Map([['docs', 1_700_000_000_000]]));
    kv.set('last_sync', 'not json');
    expect(loadLastSync(store).size).toBe(0);
  });

  it('warns about folders that do not exist', () => {
    const folders = [
      { localPath: '/there', remoteId: 'a' },
      { localPath: '/missing', remoteId: 'b' },
    ];
    const warnings = settingsWarnings({ folders }, (p) => p === '/there');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('/missing');
  });
});
