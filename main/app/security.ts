import type { Session, WebContents, WebPreferences } from 'electron';
import type { Logger } from '../logging';
import { isAppUrl } from './origin';

/**
 * Electron's security checklist, as pure decisions plus thin wiring. Our pages are our own
 * bundle on ferry://app; nothing there needs Node, navigation, popups or permissions.
 */

export function secureWebPreferences(preload: string): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    safeDialogs: true,
    spellcheck: false,
  };
}

/** Only our own bundle: no inline script, no eval, no remote anything. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** Links the user may open in their browser: http(s) only (no file:, smb:, custom handlers). */
export function isSafeExternalUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

export type NavigationDecision = { allow: boolean; openExternally: boolean };

/** A page of ours never navigates away; an http(s) link goes to the browser instead. */
export function decideNavigation(currentUrl: string, targetUrl: string): NavigationDecision {
  const sameDocument = isAppUrl(currentUrl) && isAppUrl(targetUrl) && stripHash(currentUrl) === stripHash(targetUrl);
  return { allow: sameDocument, openExternally: !sameDocument && isSafeExternalUrl(targetUrl) };
}

/** No window is ever opened by a page; http(s) links are handed to the browser. */
export function decideWindowOpen(targetUrl: string): { action: 'deny'; openExternally: boolean } {
  return { action: 'deny', openExternally: isSafeExternalUrl(targetUrl) };
}

/** Ferry's pages need no permission at all (camera, notifications, clipboard…): all denied. */
export function decidePermission(_permission: string): boolean {
  return false;
}

function stripHash(raw: string): string {
  const i = raw.indexOf('#');
  return i < 0 ? raw : raw.slice(0, i);
}

// ── wiring ──

export type OpenExternal = (url: string) => Promise<void>;

/** Applies the guards to every web contents (main.ts calls it from 'web-contents-created'). */
export function hardenWebContents(contents: WebContents, openExternal: OpenExternal, log: Logger): void {
  const handOff = (url: string) => {
    if (!isSafeExternalUrl(url)) return;
    openExternal(url).catch((error: unknown) => log.warn('could not open link', { error }));
  };
  contents.on('will-navigate', (event, url) => {
    const decision = decideNavigation(contents.getURL(), url);
    if (decision.allow) return;
    event.preventDefault();
    log.warn('navigation denied', { url: safeForLog(url) });
    if (decision.openExternally) handOff(url);
  });
  contents.on('will-redirect', (event, url) => {
    if (isAppUrl(url)) return;
    event.preventDefault();
    log.warn('redirect denied', { url: safeForLog(url) });
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    log.warn('webview denied');
  });
  contents.setWindowOpenHandler(({ url }) => {
    const decision = decideWindowOpen(url);
    if (decision.openExternally) handOff(url);
    else log.warn('window open denied', { url: safeForLog(url) });
    return { action: decision.action };
  });
}

export function hardenSession(session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>, log: Logger): void {
  session.setPermissionRequestHandler((_contents, permission, callback) => {
    log.warn('permission request denied', { permission });
    callback(decidePermission(permission));
  });
  session.setPermissionCheckHandler((_contents, permission) => decidePermission(permission));
}

/** Origin and path only: query strings can carry tokens. */
function safeForLog(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '(unparseable url)';
  }
}
