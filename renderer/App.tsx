import { useEffect, useState } from 'react';
import { useApi } from './api/context';
import { hashFor, routeFromHash, ROUTES } from './router';
import type { Route } from './router';
import { useStatus } from './state/useStatus';
import { ActivityView } from './views/ActivityView';
import { DeletedView } from './views/DeletedView';
import { FoldersView } from './views/FoldersView';
import { QueueView } from './views/QueueView';
import { SettingsView } from './views/SettingsView';

const TITLES: Record<Route, string> = { folders: 'Folders', queue: 'Queue', activity: 'Activity', deleted: 'Deleted files', settings: 'Settings' };

function useHashRoute(): Route {
  const [route, setRoute] = useState(() => routeFromHash(window.location.hash));
  useEffect(() => {
    const follow = () => setRoute(routeFromHash(window.location.hash));
    window.addEventListener('hashchange', follow);
    return () => window.removeEventListener('hashchange', follow);
  }, []);
  return route;
}

/** The shell: navigation between the windows, each of which is also reachable by its hash alone. */
export function App({ connected }: { connected: boolean }) {
  const { api } = useApi();
  const route = useHashRoute();
  const { status, error } = useStatus(api);
  useEffect(() => {
    document.title = `Ferry – ${TITLES[route]}`;
  }, [route]);
  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Ferry</span>
        <nav aria-label="Windows">
          {ROUTES.map((name) => (
            <a key={name} href={hashFor(name)} aria-current={route === name ? 'page' : undefined} data-testid={`nav-${name}`}>
              {TITLES[name]}
            </a>
          ))}
        </nav>
        {status ? <span className="device muted">{status.deviceName}</span> : null}
      </header>
      {!connected ? (
        <div className="banner banner-warn" role="status" data-testid="reconnecting">
          Lost the connection to the agent (stopped, or restarting); reconnecting… What is below is as it was then.
        </div>
      ) : null}
      {error ? (
        <div className="banner banner-error" role="alert">
          Could not read the agent's status: {error.message}
        </div>
      ) : null}
      {/* As it was when the connection went: greyed, so an "idle" or "everything in sync" is not read as now (a new-user try). */}
      <main className={connected ? undefined : 'stale'} aria-busy={connected ? undefined : true} data-testid="main">
        {route === 'folders' ? <FoldersView status={status} /> : null}
        {route === 'queue' ? <QueueView status={status} /> : null}
        {route === 'activity' ? <ActivityView /> : null}
        {route === 'deleted' ? <DeletedView status={status} /> : null}
        {route === 'settings' ? <SettingsView status={status} /> : null}
      </main>
    </div>
  );
}
