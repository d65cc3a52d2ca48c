import { visibleName } from '../../shared/visible-name';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { FileVersion, VersionPreview } from '../../shared/ui-contract';
import { useApi } from '../api/context';
import { comesBack, currentRevision } from '../../shared/restore-words';
import { contentMarks, contentNote, previewNote, restoreQuestion } from '../../shared/history-words';
import { formatBytes, formatRelative, formatWhen } from '../format';
import { useAction } from '../state/useAction';

/** The version History's View shows under the list: read, or its refusal. */
interface Viewing {
  version: FileVersion;
  preview?: VersionPreview;
  error?: string;
}

/**
 * The versions of one file the server keeps, newest first, each with View (what it holds, under
 * the list) and Restore. Read again when
 * `refresh` changes: a restore made beside the panel (Deleted files' Restore) is a new version.
 */
export function HistoryPanel({ folderId, path: asked, paused = false, onClose, onRestored, refresh }: { folderId: string; path: string; paused?: boolean; onClose: () => void; onRestored?: () => void; refresh?: unknown }) {
  const { api } = useApi();
  // The name whose versions are shown: the one asked for, or an earlier name of the file, opened
  // from its "moved from" (a new-user try found no way to the versions before a rename).
  // Kept with the file it was opened for, so another file's History starts at its own name at
  // once, not one render later (found by review: the old path was read in the new folder).
  const [opened, setOpened] = useState({ folderId, asked, path: asked });
  const path = opened.folderId === folderId && opened.asked === asked ? opened.path : asked;
  const setPath = (next: string) => setOpened({ folderId, asked, path: next });
  const [versions, setVersions] = useState<FileVersion[]>();
  const [nameNow, setNameNow] = useState<string>();
  const [error, setError] = useState<string>();
  const [restored, setRestored] = useState<string>();
  // The version whose Restore was clicked, while the panel asks before replacing the current one.
  const [asking, setAsking] = useState<FileVersion>();
  // The version whose View was clicked; another View replaces it, and an answer that comes after is dropped.
  const [viewing, setViewing] = useState<Viewing>();
  const viewed = useRef(0);
  const action = useAction();
  // The answer of the newest load only: one for a name left meanwhile is dropped.
  const loads = useRef(0);
  const load = useCallback(async () => {
    const ask = ++loads.current;
    const answer = await api.call('getHistory', { folderId, path });
    if (ask !== loads.current) return;
    if (answer.ok) {
      setVersions(answer.value.items);
      setNameNow(answer.value.nameNow);
      setError(undefined);
    } else setError(answer.error.message);
  }, [api, folderId, path]);
  useEffect(() => {
    void load();
  }, [load, refresh]);
  // Another file's History in the same panel: the question and the answer were about the last one
  // (found by review: its Restore asked about the new file with the old one's version).
  useEffect(() => {
    // Nothing of the last name's list stays clickable under the new heading while it loads.
    setVersions(undefined);
    setError(undefined);
    setAsking(undefined);
    setRestored(undefined);
    viewed.current++;
    setViewing(undefined);
  }, [folderId, path]);
  const view = async (version: FileVersion) => {
    const ask = ++viewed.current;
    setViewing({ version });
    const answer = await api.call('previewVersion', { folderId, path, revision: version.revision });
    if (ask !== viewed.current) return;
    setViewing(answer.ok ? { version, preview: answer.value } : { version, error: answer.error.message });
  };
  const closeView = () => {
    viewed.current++;
    setViewing(undefined);
  };
  // Moved away since: a version restored from here goes to the file's name now, not back here
  // beside it as a second copy (the restore finds the version under this old name).
  // Renamed more than once: where the file is now, not only the first step.
  // Opened from a "moved from" of the name asked about: that name is where the file is now, even
  // when another file took this old name since (found by review: Restore overwrote that one).
  const movedTo = path !== asked ? asked : versions?.[0]?.deleted && versions[0].movedTo !== undefined ? (nameNow ?? versions[0].movedTo) : undefined;
  const restore = async (revision: string) => {
    setAsking(undefined);
    const answer = await action.run(() => api.call('restore', { folderId, paths: [movedTo ?? path], revision }));
    if (answer.ok && answer.value.restored > 0) {
      setRestored(revision);
      onRestored?.();
      await load();
    }
  };
  const current = currentRevision(versions ?? []);
  const marks = contentMarks(versions ?? []);
  const noteOf = (v: FileVersion) => contentNote(marks.get(v.revision), (r) => `#${r}`);
  return (
    <aside className="history-panel" aria-label={`History of ${path}`} data-testid="history-panel">
      <div className="toolbar">
        <h3>
          History of <span className="queue-path">{visibleName(path)}</span>
        </h3>
        {path !== asked ? (
          <button type="button" onClick={() => setPath(asked)} data-testid="history-back">
            Back to {visibleName(asked)}
          </button>
        ) : null}
        <button type="button" onClick={onClose} data-testid="history-close">
          Close
        </button>
      </div>
      {error ? <div className="banner banner-error" role="alert">Could not load its history: {error}</div> : null}
      {action.failure ? <div className="banner banner-error" role="alert">Restore failed: {action.failure}</div> : null}
      {restored ? <div className="banner banner-ok" role="status" data-testid="history-restored">Version #{restored} restored{movedTo !== undefined ? ` as ${visibleName(movedTo)}` : ''}; {comesBack(true, paused)}.</div> : null}
      {versions && versions.length === 0 ? <p className="muted">The server keeps no history of this path.</p> : null}
      {movedTo !== undefined ? (
        <p className="muted" data-testid="history-moved-note">
          Moved to {movedTo}: a version restored here comes back there.
        </p>
      ) : null}
      {asking ? (
        <div className="banner banner-warn" role="alertdialog" aria-label="Restore this version?" data-testid="history-confirm">
          <span data-testid="history-confirm-text">
            {restoreQuestion({
              name: visibleName(path),
              revision: `#${asking.revision}`,
              when: formatWhen(asking.modifiedAt),
              size: formatBytes(asking.size),
              by: asking.deviceName ?? asking.device,
              goesTo: movedTo,
              sameAsCurrent: marks.get(asking.revision)?.current,
            })}
          </span>
          <div className="banner-actions">
            <button type="button" onClick={() => setAsking(undefined)} data-testid="history-confirm-cancel">
              Cancel
            </button>
            <button type="button" className="primary" onClick={() => void restore(asking.revision)} disabled={action.busy} data-testid="history-confirm-restore">
              Restore #{asking.revision}
            </button>
          </div>
        </div>
      ) : null}
      <ol className="history-list">
        {(versions ?? []).map((v) => (
          <li
            key={v.revision}
            className={asking?.revision === v.revision ? 'history-row history-asking' : viewing?.version.revision === v.revision ? 'history-row history-viewing' : 'history-row'}
            data-testid="history-row"
            data-revision={v.revision}
          >
            {/* The number the banner and `ferry restore --revision` name: rows that read alike stay apart. */}
            <span className="muted" data-testid="history-revision">
              #{v.revision}
            </span>
            <time dateTime={v.modifiedAt} title={new Date(v.modifiedAt).toLocaleString()}>
              {formatRelative(v.modifiedAt)}
            </time>
            <span>{v.deleted ? (v.movedTo !== undefined ? 'moved' : 'deleted') : v.kind === 'dir' ? 'folder' : formatBytes(v.size)}</span>
            {/* Its content: a fingerprint, and the versions with the same bytes (a new-user try could not tell two of one size apart). */}
            {marks.get(v.revision) ? (
              <code className="muted" title={`Content fingerprint: ${v.contentHash ?? ''}`} data-testid="history-fingerprint">
                {marks.get(v.revision)?.fingerprint}
              </code>
            ) : null}
            {noteOf(v) ? (
              <span className="content-note" data-testid="history-same">
                {noteOf(v)}
              </span>
            ) : null}
            <span className="muted" title={v.device}>{v.deviceName ?? v.device}</span>
            {v.movedFrom !== undefined ? (
              // Its versions before the rename are in the old name's history: one click away.
              <button type="button" className="link" onClick={() => setPath(v.movedFrom!)} title={`The versions it had as ${v.movedFrom}`} data-testid="history-moved-from">
                moved from {visibleName(v.movedFrom)}
              </button>
            ) : null}
            {v.movedTo !== undefined ? (
              <span className="muted" data-testid="history-moved-to">
                moved to {v.movedTo}
              </span>
            ) : null}
            {v.restoredFrom !== undefined ? (
              <span className="muted" data-testid="history-restored-from">
                restored from #{v.restoredFrom}
              </span>
            ) : null}
            {/* What it holds, before a restore (a new-user try restored blind). */}
            {!v.deleted && v.kind !== 'dir' ? (
              <button type="button" onClick={() => void view(v)} aria-pressed={viewing?.version.revision === v.revision} data-testid="history-view">
                View
              </button>
            ) : null}
            {v.revision === current ? (
              <span className="muted">current</span>
            ) : v.deleted ? null : (
              <button type="button" onClick={() => setAsking(v)} disabled={action.busy} aria-pressed={asking?.revision === v.revision} data-testid="history-restore">
                Restore
              </button>
            )}
          </li>
        ))}
      </ol>
      {viewing ? <PreviewOf viewing={viewing} onClose={closeView} /> : null}
    </aside>
  );
}

/** A version's content under the list: its text, or why there is none to show. */
function PreviewOf({ viewing, onClose }: { viewing: Viewing; onClose: () => void }) {
  const { version, preview, error } = viewing;
  const note = preview ? previewNote(preview, formatBytes) : '';
  return (
    <section className="history-preview" aria-label={`Version #${version.revision}`} data-testid="history-preview" data-revision={version.revision}>
      <div className="toolbar">
        <h4>
          Version #{version.revision}{' '}
          <span className="muted">
            saved {formatWhen(version.modifiedAt)} by {version.deviceName ?? version.device}, {formatBytes(version.size)}
          </span>
        </h4>
        <button type="button" onClick={onClose} data-testid="history-preview-close">
          Close
        </button>
      </div>
      {!preview && !error ? <p className="muted">Reading version #{version.revision}…</p> : null}
      {error ? (
        <div className="banner banner-error" role="alert" data-testid="history-preview-error">
          Could not show version #{version.revision}: {error}
        </div>
      ) : null}
      {note ? (
        <p className="muted" data-testid="history-preview-note">
          {note}
        </p>
      ) : null}
      {preview?.text ? (
        <pre className="history-preview-text" tabIndex={0} data-testid="history-preview-text">
          {preview.text}
        </pre>
      ) : null}
    </section>
  );
}
