import net from 'node:net';

/**
 * HTTP over a raw socket, for requests no HTTP client will send as written (`//` targets,
 * bodies that trickle, lies in Content-Length) and to see whether the server closes the
 * connection after answering.
 */
export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** True when the server ended the connection (by the deadline). */
  closed: boolean;
}

export interface RawConnection {
  socket: net.Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves once the server closed the connection (end or reset). */
  closed: Promise<void>;
  isClosed(): boolean;
  /** Waits for one complete reply (headers, and the body by Content-Length unless it answers a HEAD), with a deadline. */
  reply(timeoutMs?: number, options?: { head?: boolean }): Promise<RawReply>;
}

export async function rawConnect(port: number, host = '127.0.0.1'): Promise<RawConnection> {
  const socket = net.connect({ port, host });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let data = '';
  let ended = false;
  socket.on('data', (chunk: Buffer) => void (data += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void closed.then(() => void (ended = true));
  const parse = (head: boolean): RawReply | undefined => {
    const end = data.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const [statusLine = '', ...lines] = data.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = head ? 0 : Number(headers['content-length'] ?? 0);
    const body = data.slice(end + 4);
    if (Buffer.byteLength(body, 'latin1') < length) return undefined;
    return { status: Number(statusLine.split(' ')[1]), headers, body: body.slice(0, length), closed: ended };
  };
  return {
    socket,
    received: () => data,
    closed,
    isClosed: () => ended,
    async reply(timeoutMs = 10_000, options = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const parsed = parse(options.head ?? false);
        if (parsed) return parsed;
        if (ended) throw new Error(`connection closed before a full reply; got: ${JSON.stringify(data.slice(0, 200))}`);
        if (Date.now() > deadline) throw new Error(`no reply within ${timeoutMs} ms; got: ${JSON.stringify(data.slice(0, 200))}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

/** Sends `text` as written on a fresh connection and reads one reply. */
export async function rawRequest(port: number, text: string, timeoutMs = 10_000): Promise<RawReply> {
  const conn = await rawConnect(port);
  try {
    conn.socket.write(text);
    return await conn.reply(timeoutMs);
  } finally {
    conn.socket.destroy();
  }
}

/** Waits until the connection is closed by the server, or fails at the deadline. */
export async function closedWithin(conn: RawConnection, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([conn.closed.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** One sample's value from a Prometheus text page (`/metrics`), or undefined when absent. */
export function metricSample(page: string, name: string): number | undefined {
  const line = page.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}
