import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The web UI's port stays the same from one start to the next, so that a bookmark or an open
 * tab finds the agent again: DIR/control-port remembers it. The first start takes a free
 * port; a remembered port someone else took meanwhile gives way to a free one (remembered
 * from then on). An explicit port is used as asked, and remembered too: the next start without
 * the flag comes back on it (a new-user try started with --control-port, restarted without, and
 * its open tabs broke). An explicit 0 (any free port) changes nothing remembered.
 */
export const CONTROL_PORT_FILE = 'control-port';

export function rememberedPort(dataDir: string, file = CONTROL_PORT_FILE): number | undefined {
  try {
    const port = Number(readFileSync(path.join(dataDir, file), 'utf8').trim());
    return Number.isInteger(port) && port > 0 && port <= 65535 ? port : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `ferry start`'s embedded server keeps its port the same way (DIR/server-port): a second device
 * paired with it keeps its address across restarts (a new-user try: it went offline for good).
 */
export const SERVER_PORT_FILE = 'server-port';

export async function listenOnStablePort<T extends { port: number }>(dataDir: string, requested: number | undefined, listen: (port: number) => Promise<T>, file = CONTROL_PORT_FILE): Promise<T> {
  const remembered = rememberedPort(dataDir, file);
  if (requested !== undefined) {
    const asked = await listen(requested);
    if (requested !== 0 && requested !== remembered) writeFileSync(path.join(dataDir, file), `${requested}\n`, { mode: 0o600 });
    return asked;
  }
  let server: T | undefined;
  if (remembered !== undefined) {
    try {
      server = await listen(remembered);
    } catch (error) {
      if ((error as { code?: string }).code !== 'EADDRINUSE') throw error;
    }
  }
  server ??= await listen(0);
  if (server.port !== remembered) writeFileSync(path.join(dataDir, file), `${server.port}\n`, { mode: 0o600 });
  return server;
}
