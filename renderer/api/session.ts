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
