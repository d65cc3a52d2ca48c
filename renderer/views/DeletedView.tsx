import { visibleName } from '../../shared/visible-name';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { DeletedFile, RestoreResult, Status } from '../../shared/ui-contract';
import { useApi } from '../api/context';
import { formatCount, formatRelative, restoreOutcomeLine } from '../format';
import { useAction } from '../state/useAction';
import { HistoryPanel } from '../components/HistoryPanel';

/**
 * Deleted files (docs/sync-api.md, "History and restore"): what the server keeps of files
 * deleted in a folder, with search, multi-select and Restore. Restored files come back to
 * every device through the normal pull; nothing is uploaded.
 */
export function DeletedView({ status }: { status: Status | undefined }) {
  const { api } = useApi();
  const folders = status?.folders ?? [];
  const [folderId, setFolderId] = useState<string>();
  const folder = folderId ?? folders[0]?.id;
  const [items, setItems] = useState<DeletedFile[]>();
  const [loadError, setLoadError] = useState<string>();
  // When the list was read, and whether a Refresh found it as it was: a new user's try clicked
  // Refresh, saw the same list and could not tell whether anything had happened.
  const [listed, setListed] = useState<{ at: number; unchanged: boolean; loading: boolean }>();
  const [search, setSearch] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [result, setResult] = useState<RestoreResult>();
  const [historyOf, setHistoryOf] = useState<string>();
  // Restores made here: an open History panel reads the versions again (a new-user try saw it
  // still end in "deleted" after "Restored 1 file").
  const [restores, setRestores] = useState(0);
  const action = useAction();

  // Only the newest answer is shown: a slow earlier one (Refresh clicked twice, another folder
  // chosen) must not replace it.
  const asked = useRef(0);
  const lastItems = useRef<DeletedFile[]>(undefined);
  const load = useCallback(
    async (refresh = false) => {
      if (!folder) return;
      const ask = ++asked.current;
      setListed((current) => current && { ...current, loading: true });
      const answer = await api.call('listDeleted', { folderId: folder, limit: LIST_LIMIT });
      if (ask !== asked.current) return;
      if (answer.ok) {
        const before = lastItems.current;
        lastItems.current = answer.value.items;
        setItems(answer.value.items);
        // At the list's limit an older deleted file may come or go beyond it: no claim then.
        const whole = answer.value.items.length < LIST_LIMIT;
        setListed({ at: Date.now(), unchanged: refresh && whole && before !== undefined && sameListing(before, answer.value.items), loading: false });
        setLoadError(undefined);
      } else {
        setListed((current) => current && { ...current, unchanged: false, loading: false });
        setLoadError(answer.error.message);
      }
    },
    [api, folder],
  );
  useEffect(() => {
    setSelected(new Set());
    setListed(undefined);
    lastItems.current = undefined;
    void load();
  }, [load]);

  const shown = useMemo(() => (items ?? []).filter((item) => item.path.toLowerCase().includes(search.trim().toLowerCase())), [items, search]);
  const restorable = shown.filter((item) => item.lastLive !== null);
  // What Restore takes: the ticked rows the search shows (a folder's contents are shown with it:
  // their paths contain its path). Found by a new-user try: ticks hidden by a search were counted
  // and restored, and "Select all shown" could not be undone.
  const chosen = shown.filter((item) => selected.has(item.path));
  const allChosen = restorable.length > 0 && restorable.every((item) => selected.has(item.path));
  const selectAllShown = () =>
    setSelected((current) => {
      const next = new Set(current);
      for (const item of restorable) {
        if (allChosen) next.delete(item.path);
        else next.add(item.path);
      }
      return next;
    });
  // A folder takes what is deleted below it along (each can be unticked): ticked alone it came
  // back empty (found by a new-user try).
  const toggle = (item: DeletedFile) =>
    setSelected((current) => {
      const next = new Set(current);
      const on = !next.has(item.path);
      const along = item.kind === 'dir' ? (items ?? []).filter((i) => i.lastLive !== null && i.path.startsWith(`${item.path}/`)) : [];
      for (const p of [item.path, ...along.map((i) => i.path)]) {
        if (on) next.add(p);
        else next.delete(p);
      }
      return next;
    });
  const restore = async () => {
    if (!folder || chosen.length === 0) return;
    const answer = await action.run(() => api.call('restore', { folderId: folder, deleted: true, paths: chosen.map((item) => item.path) }));
    if (answer.ok) {
      setResult(answer.value);
      setSelected(new Set());
      setRestores((n) => n + 1);
      await load();
    }
  };

  return (
    <div className="view deleted-view">
      <div className="toolbar">
        <h2>Deleted files</h2>
        {folders.length > 1 ? (
          <label>
            Folder{' '}
            <select value={folder} onChange={(event) => setFolderId(event.target.value)} data-testid="deleted-folder">
              {folders.map((f) => (
                <option key={f.id} value={f.id}>
                  {f.id}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <input type="search" placeholder="Search deleted files" value={search} onChange={(event) => setSearch(event.target.value)} data-testid="deleted-search" aria-label="Search deleted files" />
        <button type="button" onClick={selectAllShown} disabled={restorable.length === 0} data-testid="deleted-select-all">
          {allChosen ? 'Clear selection' : 'Select all shown'}
        </button>
        <button type="button" className="primary" onClick={() => void restore()} disabled={chosen.length === 0 || action.busy} data-testid="deleted-restore">
          Restore {chosen.length > 0 ? chosen.length : ''}
        </button>
        {/* The list is the server's at the time it was read: another device may make a listed file again. */}
        <button type="button" onClick={() => void load(true)} disabled={listed?.loading === true} data-testid="deleted-refresh">
          {listed?.loading ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
      {listed ? (
        <p className="muted">
          {items && items.length > 0 ? <span data-testid="deleted-count">{countLine(items, shown.length, search.trim() !== '')}</span> : null}
          {items && items.length > 0 ? ' · ' : null}
          <span data-testid="deleted-listed">
            listed at {new Date(listed.at).toLocaleTimeString()}
            {listed.unchanged ? ': nothing was deleted or restored since the listing before' : ''}
          </span>
        </p>
      ) : null}
      {loadError ? <div className="banner banner-error" role="alert">Could not list deleted files: {loadError}</div> : null}
      {action.failure ? <div className="banner banner-error" role="alert">Restore failed: {action.failure}</div> : null}
      {result ? (
        <div className={`banner ${result.failed.length || result.skipped.length ? 'banner-warn' : 'banner-ok'}`} role="status" data-testid="deleted-result">
          {restoreOutcomeLine(result, status?.state === 'paused')}
          {result.failed.map((f) => ` ${f.path}: ${f.message}.`).join('')}
          {result.skipped.map((s) => ` ${s.path} was not restored: ${s.reason}.`).join('')}
        </div>
      ) : null}
      {items && shown.length === 0 ? <p className="muted" data-testid="deleted-empty">{search ? 'No deleted file matches.' : `Nothing in ${folders.find((f) => f.id === folder)?.localPath ?? 'this folder'} is deleted on the server now. A file deleted and made again shows its deletion in its History (its History button on the Queue page).`}</p> : null}
      <ul className="deleted-list" aria-label="Deleted files" data-testid="deleted-list">
        {shown.map((item) => (
          <li key={item.path} className="deleted-row" data-testid="deleted-row" data-path={item.path}>
            <input type="checkbox" checked={selected.has(item.path)} disabled={item.lastLive === null} onChange={() => toggle(item)} aria-label={`Select ${item.path}`} />
            <button type="button" className="link queue-path" onClick={() => setHistoryOf(item.path)} title="Show its versions">
              {visibleName(item.path)}
            </button>
            {item.kind === 'dir' ? (
              <span className="muted" data-testid="deleted-folder-mark">
                folder
              </span>
            ) : null}
            <span className="muted">
              deleted {formatRelative(item.deletedAt)} on {item.deviceName ?? item.device}
              {item.lastLive === null ? ' · no earlier version kept' : ''}
            </span>
          </li>
        ))}
      </ul>
      {historyOf && folder ? <HistoryPanel folderId={folder} path={historyOf} paused={status?.state === 'paused'} onClose={() => setHistoryOf(undefined)} onRestored={() => void load()} refresh={restores} /> : null}
    </div>
  );
}

const LIST_LIMIT = 10_000;

/** "3 deleted files and 1 folder" (at the list's limit, "the first…"), and how many the search shows. */
function countLine(listed: readonly DeletedFile[], shown: number, searching: boolean): string {
  const folders = listed.filter((item) => item.kind === 'dir').length;
  const files = listed.length - folders;
  const parts = [
    files > 0 || folders === 0 ? `${formatCount(files)} deleted ${files === 1 ? 'file' : 'files'}` : null,
    folders > 0 ? `${formatCount(folders)} ${files > 0 ? '' : 'deleted '}${folders === 1 ? 'folder' : 'folders'}` : null,
  ];
  const total = `${listed.length >= LIST_LIMIT ? 'The first ' : ''}${parts.filter(Boolean).join(' and ')}`;
  return searching ? `${total}; ${formatCount(shown)} shown` : total;
}

/** The same deleted paths, each deleted at the same time: a Refresh that found nothing new. */
function sameListing(a: readonly DeletedFile[], b: readonly DeletedFile[]): boolean {
  return a.length === b.length && a.every((item, i) => item.path === b[i]?.path && item.deletedAt === b[i]?.deletedAt);
}
