/**
 * The renderer is served from `ferry://app/…` instead of file://: a standard, secure origin
 * of its own, so that the CSP's 'self', the sender check and fetch rules mean exactly "our
 * bundle" and nothing else on disk.
 */
export const APP_SCHEME = 'ferry';
export const APP_HOST = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

export type AppRoute = 'queue' | 'settings';

/** The page URL of a window: the one bundle, routed by hash. */
export function appUrl(route: AppRoute): string {
  return `${APP_ORIGIN}/index.html#/${route}`;
}

/** True for URLs of our own origin (WHATWG gives custom schemes an opaque origin, so compare parts). */
export function isAppUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST && url.username === '' && url.password === '' && url.port === '';
  } catch {
    return false;
  }
}
