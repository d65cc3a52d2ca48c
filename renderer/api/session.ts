import { CONTROL_ROUTES, LOGIN_FRAGMENT_PREFIX, SessionReply } from '../../shared/ui-contract-http';

/**
 * Browser sign-in to the headless agent. The agent prints `/#login=<code>`; the page takes
 * the code out of the address bar at once (so it is in no history entry), trades it for the
 * control token, and keeps the token for this tab only (sessionStorage).
 */
const TOKEN_KEY = 'ferry.controlToken';

export function parseLoginFragment(hash: string): string | undefined {
  if (!hash.startsWith(LOGIN_FRAGMENT_PREFIX)) return undefined;
  const code = hash.slice(LOGIN_FRAGMENT_PREFIX.length);
  return /^[A-Za-z0-9_-]{1,256}$/.test(code) ? code : undefined;
}

/** Reads and removes a login code from the address bar. */
export function takeLoginCode(location: Location, history: History): string | undefined {
  const code = parseLoginFragment(location.hash);
  if (location.hash.startsWith(LOGIN_FRAGMENT_PREFIX)) history.replaceState(null, '', `${location.pathname}${location.search}#/folders`);
  return code;
}

export async function exchangeLoginCode(code: string, doFetch: typeof fetch = fetch.bind(globalThis)): Promise<string> {
  const res = await doFetch(CONTROL_ROUTES.session, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ code }),
  });
  const body = (await res.json().catch(() => undefined)) as { ok?: boolean; value?: unknown } | undefined;
  const reply = SessionReply.safeParse(body?.value);
  if (!res.ok || body?.ok !== true || !reply.success) throw new Error('This sign-in link is invalid, already used or expired.');
  return reply.data.token;
}

export function storedToken(storage: Storage): string | undefined {
  return storage.getItem(TOKEN_KEY) ?? undefined;
}

export function storeToken(storage: Storage, token: string): void {
  storage.setItem(TOKEN_KEY, token);
}

export function forgetToken(storage: Storage): void {
  storage.removeItem(TOKEN_KEY);
}

/**
 * Tabs of this page share a sign-in: a new tab asks the open ones (same origin only, the agent's
 * own page) and takes the token from the first that answers, kept for that tab as well. Found by
 * a new-user try: every new tab had to sign in again with a fresh `ferry ui` link. The token goes
 * nowhere a signed-in tab's own script could not read it already.
 */
const CHANNEL = 'ferry.session';
const ASK_WAIT_MS = 300;

/** Answers new tabs' asks while this tab is signed in; returns the stop. */
export function shareSession(token: string, Channel: typeof BroadcastChannel | undefined = globalThis.BroadcastChannel): () => void {
  if (!Channel) return () => undefined;
  const channel = new Channel(CHANNEL);
  channel.onmessage = (event: MessageEvent) => {
    if ((event.data as { type?: string } | null)?.type === 'ask') channel.postMessage({ type: 'token', token });
  };
  return () => channel.close();
}

/** The token of another signed-in tab of this page, or undefined when none answers soon. */
export function askOpenTabs(Channel: typeof BroadcastChannel | undefined = globalThis.BroadcastChannel, waitMs = ASK_WAIT_MS): Promise<string | undefined> {
  if (!Channel) return Promise.resolve(undefined);
  const channel = new Channel(CHANNEL);
  return new Promise((resolve) => {
    const done = (token: string | undefined) => {
      clearTimeout(timer);
      channel.close();
      resolve(token);
    };
    const timer = setTimeout(() => done(undefined), waitMs);
    channel.onmessage = (event: MessageEvent) => {
      const data = event.data as { type?: string; token?: unknown } | null;
      if (data?.type === 'token' && typeof data.token === 'string') done(data.token);
    };
    channel.postMessage({ type: 'ask' });
  });
}
