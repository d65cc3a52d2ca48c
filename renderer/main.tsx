import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { Root } from 'react-dom/client';
import { App } from './App';
import { findBridge, folderChooser } from './api/bridge';
import { ApiContext } from './api/context';
import { HttpFerryApi } from './api/http-transport';
import { askOpenTabs, exchangeLoginCode, forgetToken, shareSession, storedToken, storeToken, takeLoginCode } from './api/session';
import { SignInView } from './views/SignInView';
import { LOGIN_FRAGMENT_PREFIX } from '../shared/ui-contract-http';

/**
 * One bundle, two hosts. Inside Electron the preload bridge (`window.ferry`) is the
 * transport; in a browser it is HTTP + SSE to the agent that served the page, after a
 * sign-in by login code (from the printed link) or by pasting the control token.
 */
declare global {
  interface Window {
    ferry?: unknown;
  }
}

const element = document.getElementById('root');
if (!element) throw new Error('index.html lacks #root');
const root = createRoot(element);

const bridge = findBridge(window);
if (bridge) {
  root.render(
    <StrictMode>
      <ApiContext.Provider value={{ api: bridge, chooseFolder: folderChooser(bridge), desktop: true }}>
        <App connected />
      </ApiContext.Provider>
    </StrictMode>,
  );
} else {
  void startInBrowser(root);
  // A sign-in link opened in a tab that shows this page already changes only the fragment: no
  // load follows, so the code is taken here (it sat unused in the address bar; found by a new-user try).
  window.addEventListener('hashchange', () => {
    if (window.location.hash.startsWith(LOGIN_FRAGMENT_PREFIX)) void startInBrowser(root);
  });
}

async function startInBrowser(target: Root): Promise<void> {
  // Take the code out of the address bar before anything else can record it.
  const code = takeLoginCode(window.location, window.history);
  let message: string | undefined;
  if (code) {
    try {
      storeToken(sessionStorage, await exchangeLoginCode(code));
    } catch (error) {
      message = error instanceof Error ? error.message : String(error);
    }
  }
  // No link and no sign-in of its own: a new tab takes the one of a tab already signed in.
  const token = storedToken(sessionStorage) ?? (code || message ? undefined : await askOpenTabs());
  if (token) {
    storeToken(sessionStorage, token);
    showApp(target, token);
  } else showSignIn(target, message);
}

/** This tab's answer to new tabs' asks, while it is signed in. */
let sharing: (() => void) | undefined;

function showSignIn(target: Root, message?: string): void {
  target.render(
    <SignInView
      message={message}
      onSubmit={async (token) => {
        const probe = new HttpFerryApi({ token });
        const result = await probe.call('getStatus', {});
        if (!result.ok) return result.error.code === 'unauthorized' ? 'That token was not accepted.' : result.error.message;
        storeToken(sessionStorage, token);
        showApp(target, token);
        return undefined;
      }}
    />,
  );
}

function showApp(target: Root, token: string): void {
  sharing?.();
  sharing = shareSession(token);
  const signOut = () => {
    sharing?.();
    sharing = undefined;
    forgetToken(sessionStorage);
    showSignIn(target, 'The agent no longer accepts this session; sign in again.');
  };
  target.render(
    <StrictMode>
      <BrowserApp token={token} onUnauthorized={signOut} />
    </StrictMode>,
  );
}

function BrowserApp({ token, onUnauthorized }: { token: string; onUnauthorized(): void }) {
  const [connected, setConnected] = useState(true);
  const [connects, setConnects] = useState(0);
  const [api] = useState(
    () =>
      new HttpFerryApi({
        token,
        onUnauthorized,
        onConnectionChange: (now) => {
          setConnected(now);
          if (now) setConnects((n) => n + 1);
        },
      }),
  );
  return (
    <ApiContext.Provider value={{ api, connects }}>
      <App connected={connected} />
    </ApiContext.Provider>
  );
}
