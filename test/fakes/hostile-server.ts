import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small real HTTP server that speaks just enough Sync API to be dangerous: the changes
 * feed and blocks, answering with whatever a test scripts (traversal paths, wrong hashes,
 * garbage JSON). The engine must treat all of it as untrusted.
 */
export interface HostileItem {
  path: string;
  content: string;
  /** Served instead of `content` when the block is fetched (a wrong hash). */
  served?: string;
  deleted?: boolean;
}

export type HostileMode =
  | { kind: 'items'; items: HostileItem[] }
  /** The changes feed answers with this raw body (status 200, JSON content type). */
  | { kind: 'raw'; body: string };

export interface HostileServer {
  url: string;
  token: string;
  /** Requests seen, as "METHOD path". */
  requests: string[];
  setMode(mode: HostileMode): void;
  close(): Promise<void>;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export async function startHostileServer(initial: HostileMode): Promise<HostileServer> {
  let mode = initial;
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}`);
    const send = (status: number, body: string | Buffer, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (url.pathname.endsWith('/changes/wait')) return send(200, JSON.stringify({ changes: false }));
    if (url.pathname.endsWith('/changes')) {
      if (mode.kind === 'raw') return send(200, mode.body);
      const items = mode.items.map((i, n) => ({
        path: i.path,
        revision: String(n + 1),
        deleted: i.deleted ?? false,
        size: i.deleted ? 0 : Buffer.byteLength(i.content),
        mtime: 1_700_000_000_000,
        blocks: i.deleted || i.content === '' ? [] : [sha(i.content)],
        modificationDate: new Date(1_700_000_000_000 + n).toISOString(),
        device: 'evil/../device',
      }));
      return send(200, JSON.stringify({ items, _links: { 'upcoming-modifications': { href: `/v1/folders/x/changes?syncToken=hostile-token` } } }));
    }
    const block = /^\/v1\/blocks\/([0-9a-f]{64})$/.exec(url.pathname);
    if (block && mode.kind === 'items') {
      const item = mode.items.find((i) => sha(i.content) === block[1]);
      if (item) return send(200, Buffer.from(item.served ?? item.content), 'application/octet-stream');
    }
    return send(404, JSON.stringify({ code: 'not_found', message: 'nothing here' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token: 'hostile',
    requests,
    setMode: (m) => void (mode = m),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
