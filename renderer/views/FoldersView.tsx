import { SETTLE_CONFLICT } from '../../shared/conflict-words';
import { folderHeadline } from '../../shared/folder-headline';
import { visibleName } from '../../shared/visible-name';
import { useEffect, useState } from 'react';
import type { FolderDevices, FolderStatus, QueueItem, Status } from '../../shared/ui-contract';
import { deviceStateParts, distinctName, seenWord } from '../../shared/device-words';
import { deleteOrigin, heldCount } from '../../shared/pending-delete';
import { useApi } from '../api/context';
import { ConflictCopies } from '../components/ConflictCopies';
import { ActionFailure, FolderBanners } from '../components/FolderBanners';
import { WhyPanel, whyRefreshKey, type WhyTarget } from '../components/WhyPanel';
import { agentStateLabel, formatBytes, formatCount, formatCountOf, formatRelative, syncSummary, waitingForServer } from '../format';
import { useAction } from '../state/useAction';
import { useNow } from '../state/useNow';

/** How often the devices and the items not in sync are asked for again. */
const REFRESH_MS = 5000;
/** After this device's folder or pause state changed: its report (sent within a second) is read back then. */
const AFTER_CHANGE_MS = 1500;
const SHOWN_ITEMS = 5;

/** The first screen: each folder's state, size, last sync, what is not in sync and why, and its devices. */
export function FoldersView({ status }: { status: Status | undefined }) {
  const { api } = useApi();
  const [devices, setDevices] = useState<FolderDevices[]>([]);
  const [why, setWhy] = useState<WhyTarget>();
  const action = useAction();
  const now = useNow();
  // This device's own chip follows its folders' states, their pulls and its pause without waiting
  // for the next refresh (a screenshot showed it "up to date" beside its folder in error).
  const changed = `${status?.state === 'paused'}|${status?.folders.map((f) => `${f.id}:${f.state}:${f.incoming ?? 0}`).join(',') ?? ''}`;
  useEffect(() => {
    let live = true;
    const load = () =>
      void api.call('listDevices', {}).then((result) => {
        if (live && result.ok) setDevices(result.value);
      });
    load();
    const timer = setInterval(load, REFRESH_MS);
    const again = setTimeout(load, AFTER_CHANGE_MS);
    return () => {
      live = false;
      clearInterval(timer);
      clearTimeout(again);
    };
  }, [api, changed]);
  return (
    <div className="view folders-view">
      <div className="summary">
        <span className={`state-pill state-${status?.state ?? 'unknown'}`} data-testid="agent-state">
          {status ? agentStateLabel(status.state, status.folders) : 'connecting…'}
        </span>
        {status?.reason ? <span className={`state-reason state-${status.state}`}>{status.reason}</span> : null}
        {/* The state says "until you resume": the way to is here too, not only on the Queue page (found by a new-user try). */}
        {status?.state === 'paused' ? (
          <button type="button" onClick={() => void action.run(() => api.call('resume', {}))} disabled={action.busy} data-testid="resume">
            Resume
          </button>
        ) : null}
      </div>
      {status ? <FolderBanners folders={status.folders} action={action} /> : null}
      <ActionFailure action={action} />
      {status && status.folders.length === 0 ? <p className="muted">No folders yet: add one in Settings.</p> : null}
      <div className="folders-with-why">
        <ul className="folder-cards" aria-label="Folders">
          {status?.folders.map((folder) => (
            <FolderCard key={folder.id} folder={folder} devices={devices.find((d) => d.folderId === folder.id)} now={now} agentState={status?.state} onWhy={setWhy} />
          ))}
        </ul>
        {why ? <WhyPanel target={why} refreshOn={whyRefreshKey(status)} onClose={() => setWhy(undefined)} /> : null}
      </div>
    </div>
  );
}

/**
 * The folder's badge: "ok" only when nothing holds it back. A new-user try read "ok" while the
 * device was signed out, the server down, or four of its files failed for good.
 */
function folderStateText(folder: FolderStatus, agentState: string | undefined): string {
  const headline = folderHeadline(folder, agentState);
  switch (headline.kind) {
    case 'pending_delete':
      // Those that went to the server before the hold wait for nothing (docs/conflict-rules.md, local deletes).
      return `waiting for you: ${formatCountOf(heldCount(folder.pendingDelete!), 'file')} deleted ${deleteOrigin(folder.pendingDelete!)}`;
    case 'waiting_for_folder':
      return 'waiting for the folder to be created';
    case 'error':
      // The banner above says the whole of it, and what to do.
      return folder.gone ? `error: ${folder.gone === 'marker' ? 'its .ferry marker' : 'the folder'} is gone` : `error: ${folder.error ?? 'unknown'}`;
    case 'disk_full':
      return 'waiting for disk space';
    case 'failing':
      return `${formatCount(headline.count)} failing`;
    case 'unsyncable':
      return `${formatCount(headline.count)} cannot be synced`;
    case 'waiting_for_server':
      return `waiting for the server (${agentStateLabel(agentState!)})`;
    case 'paused':
      return 'paused';
    case 'state':
      return folder.state;
  }
}

function FolderCard({ folder, devices, now, agentState, onWhy }: { folder: FolderStatus; devices: FolderDevices | undefined; now: number; agentState: string | undefined; onWhy(target: WhyTarget): void }) {
  const { api } = useApi();
  const counts = folder.counts;
  const queued = counts ? counts.pending + counts.in_flight + counts.retry_wait + counts.failed : 0;
  // Names that cannot be synced are never queued: counted and named apart (a new-user try read
  // "everything in sync" beside a file whose name the server refuses).
  const unsyncable = folder.unsyncable;
  const badNames = (unsyncable?.shown ?? []).slice(0, Math.max(0, SHOWN_ITEMS - Math.min(queued, SHOWN_ITEMS)));
  const notInSync = queued + (unsyncable?.count ?? 0);
  const [items, setItems] = useState<QueueItem[]>([]);
  useEffect(() => {
    let live = true;
    // Failing first, then waiting to retry, then queued: the ones that need a look come first.
    void Promise.all(
      (['failed', 'retry_wait', 'pending', 'in_flight'] as const).map((state) => api.call('listQueue', { state, folderId: folder.id, offset: 0, limit: SHOWN_ITEMS })),
    ).then((pages) => {
      if (live) setItems(pages.flatMap((p) => (p.ok ? p.value.items : [])).slice(0, SHOWN_ITEMS));
    });
    return () => {
      live = false;
    };
  }, [api, folder.id, queued]);
  return (
    <li className="folder-card" data-testid="folder-card" data-folder={folder.id}>
      <div className="folder-card-head">
        <strong>{folder.id}</strong>
        <span className="muted">{folder.localPath}</span>
        <span className={`badge folder-state-${folder.state}`} data-testid="folder-state">
          {folderStateText(folder, agentState)}
        </span>
      </div>
      <div className="folder-card-meta muted">
        <span data-testid="folder-size">
          {/* What was recorded, not what is there: a gone folder holds nothing now (a new-user try). */}
          {formatCountOf(folder.files ?? 0, 'file')} · {formatBytes(folder.bytes ?? 0)}
          {folder.gone ? ' when last synced' : ''}
        </span>
        <span>last sync {formatRelative(folder.lastSyncAt, now)}</span>
        <span data-testid="folder-not-in-sync">{syncSummary(folder, notInSync, devices?.devices.find((d) => d.self)?.behind ?? null, agentState)}</span>
      </div>
      {folder.pullError ? (
        <div className="queue-error" data-testid="folder-pull-error">
          Pulls failing: {folder.pullError}
        </div>
      ) : null}
      {folder.pullWait ? (
        <div className="folder-wait" data-testid="folder-pull-wait">
          Waiting for you: {folder.pullWait}
        </div>
      ) : null}
      {items.length > 0 || badNames.length > 0 ? (
        <ul className="folder-items" aria-label={`Not in sync in ${folder.id}`}>
          {items.map((item) => (
            <li key={item.id} data-testid="folder-item" data-path={item.path}>
              <button type="button" className="link" onClick={() => onWhy({ folderId: folder.id, path: item.path })} data-testid="why-open">
                {visibleName(item.path)}
              </button>{' '}
              <span className="muted" data-testid="folder-item-state">
                {waitingForServer(item.state, agentState) ?? (item.error ? `${item.state.replace('_', ' ')}: ${item.error.message}` : item.state.replace('_', ' '))}
              </span>
            </li>
          ))}
          {badNames.map((name) => (
            <li key={`unsyncable\u0000${name.path}`} data-testid="folder-item" data-path={name.path}>
              <button type="button" className="link" onClick={() => onWhy({ folderId: folder.id, path: name.path })} data-testid="why-open">
                {visibleName(name.path)}
              </button>{' '}
              <span className="muted" data-testid="folder-item-state">
                cannot be synced: {visibleName(name.reason)}; rename it to sync it
              </span>
            </li>
          ))}
          {queued > items.length ? (
            <li className="muted" data-testid="folder-items-more">
              and {formatCount(queued - items.length)} more (the Queue page lists them)
            </li>
          ) : null}
          {(unsyncable?.count ?? 0) > badNames.length ? (
            <li className="muted" data-testid="folder-unsyncable-more">
              and {formatCount((unsyncable?.count ?? 0) - badNames.length)} more {badNames.length > 0 ? '' : 'names '}that cannot be synced (`ferry status` names them)
            </li>
          ) : null}
        </ul>
      ) : null}
      {(folder.conflicts ?? 0) > 0 ? (
        <div className="folder-conflicts">
          <span data-testid="folder-conflicts">
            {formatCountOf(folder.conflicts ?? 0, 'conflict copy', 'conflict copies')} on disk: {SETTLE_CONFLICT}
          </span>
          <ConflictCopies folderId={folder.id} refresh={folder.conflicts} onWhy={onWhy} />
        </div>
      ) : null}
      <div className="folder-devices" aria-label={`Devices of ${folder.id}`}>
        {devices?.error ? <span className="queue-error">Devices unknown: {devices.error}</span> : null}
        {devices?.devices.map((device) => {
          const state = deviceStateParts(device, formatCount, now);
          return (
            <span key={device.device} className={`device-chip ${state.inSync ? 'ok' : 'behind'}`} data-testid="device-chip" data-name={device.name}>
              {distinctName(device, devices.devices)}
              {device.self ? ' (this device)' : ''}: {state.parts.join(' · ')} · {seenWord(device.self)} {formatRelative(device.lastSeen, now)}
            </span>
          );
        })}
      </div>
    </li>
  );
}
