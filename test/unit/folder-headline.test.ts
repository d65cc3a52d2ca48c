import { describe, expect, it } from 'vitest';
import { folderHeadline } from '../../shared/folder-headline';
import type { FolderStatus } from '../../shared/ui-contract';

// One rule for the folder's badge in the web UI and its word in `ferry status`: "ok" only when
// nothing holds the folder back, the first thing that does named (new-user tries).
describe('a folder headline', () => {
  const counts = (failed: number) => ({ pending: 0, in_flight: 0, retry_wait: 0, failed, done: 0 });
  const ok: Pick<FolderStatus, 'pendingDelete' | 'state' | 'counts' | 'unsyncable' | 'notMadeYet'> = { pendingDelete: null, state: 'ok', counts: counts(0) };
  const pendingDelete = { count: 3, total: 4, side: 'scan' as const, sample: [], devices: [] };

  it('leads with what holds the folder back, in order', () => {
    expect(folderHeadline({ ...ok, state: 'paused_mass_delete', pendingDelete, counts: counts(2) }, 'waiting')).toEqual({ kind: 'pending_delete' });
    expect(folderHeadline({ ...ok, state: 'error', notMadeYet: true }, 'waiting')).toEqual({ kind: 'waiting_for_folder' });
    expect(folderHeadline({ ...ok, state: 'error', counts: counts(1) }, 'error')).toEqual({ kind: 'error' });
    expect(folderHeadline({ ...ok, state: 'disk_full' }, 'idle')).toEqual({ kind: 'disk_full' });
    expect(folderHeadline({ ...ok, counts: counts(2), unsyncable: { count: 1, shown: [] } }, 'offline')).toEqual({ kind: 'failing', count: 2 });
    expect(folderHeadline({ ...ok, unsyncable: { count: 1, shown: [] } }, 'offline')).toEqual({ kind: 'unsyncable', count: 1 });
    expect(folderHeadline(ok, 'auth_failed')).toEqual({ kind: 'waiting_for_server' });
    expect(folderHeadline(ok, 'offline')).toEqual({ kind: 'waiting_for_server' });
    expect(folderHeadline(ok, 'paused')).toEqual({ kind: 'paused' });
    expect(folderHeadline(ok, 'idle')).toEqual({ kind: 'state' });
  });
});
