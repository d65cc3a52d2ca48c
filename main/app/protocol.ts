import path from 'node:path';
import { readFile } from 'node:fs/promises';
import type { Protocol } from 'electron';
import { APP_SCHEME, isAppUrl } from './origin';
import { CONTENT_SECURITY_POLICY } from './security';

// Serves dist/renderer on ferry://app/ (see origin.ts for why not file://).

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export type Resolved = { ok: true; file: string; contentType: string } | { ok: false; status: 400 | 403 | 404 };

/**
 * Maps a request URL to a file under `root`, or refuses it. Pure (no disk access): refuses
 * other origins, malformed escapes, NUL, backslashes, dot segments that climb out of root,
 * hidden files and unknown file types.
 */
export function resolveAppRequest(rawUrl: string, root: string): Resolved {
  if (!isAppUrl(rawUrl)) return { ok: false, status: 403 };
  // WHATWG already folded plain `..` segments; look at the raw path for encoded tricks too.
  const url = new URL(rawUrl);
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname);
  } catch {
    return { ok: false, status: 400 };
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return { ok: false, status: 400 };
  const relative = decoded === '/' || decoded === '' ? 'index.html' : decoded.replace(/^\/+/, '');
  const segments = relative.split('/');
  if (segments.some((s) => s === '..' || s === '.' || s.startsWith('.'))) return { ok: false, status: 403 };
  const base = path.resolve(root);
  const file = path.resolve(base, ...segments);
  const within = path.relative(base, file);
  if (within === '' || within.startsWith('..') || path.isAbsolute(within)) return { ok: false, status: 403 };
  const contentType = CONTENT_TYPES[path.extname(file).toLowerCase()];
  if (!contentType) return { ok: false, status: 404 };
  return { ok: true, file, contentType };
}

/** Headers every page and asset of ours is served with. */
export function responseHeaders(contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  };
}

export type FileReader = (file: string) => Promise<Uint8Array>;

/** The protocol handler, independent of Electron: Request in, Response out. */
export function createAppRequestHandler(root: string, read: FileReader = readFile): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return new Response(null, { status: 405 });
    const resolved = resolveAppRequest(request.url, root);
    if (!resolved.ok) return new Response(null, { status: resolved.status });
    let body: Uint8Array;
    try {
      body = await read(resolved.file);
    } catch {
      return new Response(null, { status: 404 });
    }
    return new Response(request.method === 'HEAD' ? null : (body as Uint8Array<ArrayBuffer>), {
      status: 200,
      headers: responseHeaders(resolved.contentType),
    });
  };
}

/** Must run before `app` is ready: privileges can only be granted then. */
export function registerAppScheme(protocol: Pick<Protocol, 'registerSchemesAsPrivileged'>): void {
  // corsEnabled lets the page load its own `<script type="module">` (module fetches run in
  // CORS mode); other origins still cannot read our files: no Access-Control-Allow-Origin.
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, codeCache: true } },
  ]);
}

/** After ready: serve dist/renderer on the scheme (on the session the windows use). */
export function serveApp(protocol: Pick<Protocol, 'handle'>, root: string): void {
  protocol.handle(APP_SCHEME, createAppRequestHandler(root));
}
