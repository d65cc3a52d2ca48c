import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { FerryError } from '../protocol';
import type { Logger } from '../main/logging';

/**
 * What keeps one hostile client from taking the reference server down: a nesting limit for
 * JSON bodies, a bound on body bytes held in memory at once, a minimum upload rate, and caps
 * on open connections (docs/sync-api.md, "Limits").
 */

/** The deepest legitimate body is a batch: object → operations → operation → blocks (4). */
export const MAX_JSON_DEPTH = 16;

const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * True when the JSON text nests arrays or objects deeper than `maxDepth`. One linear pass
 * before JSON.parse, so `[[[[…` is refused without building millions of arrays.
 */
export function jsonNestingExceeds(text: Buffer, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--;
  }
  return false;
}

/**
 * Body bytes buffered in memory across all requests at once. A request that would go over
 * is refused with 503 (retryable) instead of letting a few huge bodies exhaust memory.
 */
export class BodyBudget {
  private used = 0;

  constructor(readonly maxBytes: number) {}

  get inUse(): number {
    return this.used;
  }

  take(bytes: number): void {
    if (this.used + bytes > this.maxBytes) {
      throw new FerryError('unavailable', 'The server is busy reading other request bodies; try again shortly', { status: 503, retryAfterSeconds: 1 });
    }
    this.used += bytes;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

export interface SlowBodyOptions {
  /** A body that sends nothing for this long is cut off. */
  idleMs: number;
  /** After `graceMs`, a body must have averaged at least this rate. */
  minBytesPerSecond: number;
  graceMs: number;
  /** How often the watched bodies are checked. */
  sweepMs: number;
  log: Logger;
}

interface Watched {
  startedAt: number;
  startBytes: number;
  lastBytes: number;
  lastProgressAt: number;
}

/**
 * Cuts off request bodies that trickle in (one byte every few seconds holds a socket and a
 * file descriptor for as long as the client likes). Reads the socket's byte counter, so
 * watching adds no listener that could change how the body flows.
 */
export class SlowBodyGuard {
  private readonly watched = new Map<IncomingMessage, Watched>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly o: SlowBodyOptions) {
    this.timer = setInterval(() => this.sweep(), o.sweepMs);
    this.timer.unref();
  }

  watch(req: IncomingMessage): void {
    if (req.complete) return;
    const now = performance.now();
    const bytes = req.socket.bytesRead;
    this.watched.set(req, { startedAt: now, startBytes: bytes, lastBytes: bytes, lastProgressAt: now });
    req.once('close', () => this.watched.delete(req));
  }

  close(): void {
    clearInterval(this.timer);
    this.watched.clear();
  }

  private sweep(): void {
    const now = performance.now();
    for (const [req, w] of this.watched) {
      if (req.complete || req.destroyed) {
        this.watched.delete(req);
        continue;
      }
      const bytes = req.socket.bytesRead;
      if (bytes > w.lastBytes) {
        w.lastBytes = bytes;
        w.lastProgressAt = now;
      }
      const elapsed = now - w.startedAt;
      const idle = now - w.lastProgressAt >= this.o.idleMs;
      const slow = elapsed >= this.o.graceMs && ((bytes - w.startBytes) * 1000) / elapsed < this.o.minBytesPerSecond;
      if (!idle && !slow) continue;
      this.watched.delete(req);
      this.o.log.info('request body too slow; connection closed', { method: req.method, bytes: bytes - w.startBytes, ms: Math.round(elapsed) });
      req.socket.destroy();
    }
  }
}

export interface ConnectionCapOptions {
  maxConnections: number;
  maxConnectionsPerClient: number;
  log: Logger;
}

/**
 * Caps open connections in all and per client address. A connection over a cap gets a 503
 * (so a real client backs off and retries) and is closed at once.
 */
export function capConnections(server: Server, o: ConnectionCapOptions): void {
  const perClient = new Map<string, number>();
  let total = 0;
  let lastWarned = Number.NEGATIVE_INFINITY;
  server.on('connection', (socket: Socket) => {
    const client = socket.remoteAddress ?? '?';
    const mine = perClient.get(client) ?? 0;
    if (total >= o.maxConnections || mine >= o.maxConnectionsPerClient) {
      if (performance.now() - lastWarned > 10_000) {
        lastWarned = performance.now();
        o.log.warn('connection refused: too many open connections', { client, fromClient: mine, total });
      }
      refuseRaw(socket, 503, 'unavailable', 'Too many open connections; try again shortly', ['Retry-After: 1']);
      return;
    }
    total++;
    perClient.set(client, mine + 1);
    socket.once('close', () => {
      total--;
      const left = (perClient.get(client) ?? 1) - 1;
      if (left <= 0) perClient.delete(client);
      else perClient.set(client, left);
    });
  });
}

/** A JSON error written straight to the socket (no request object to answer through), then closed. */
export function refuseRaw(socket: Duplex, status: number, code: string, message: string, headers: string[] = []): void {
  const payload = JSON.stringify({ code, message });
  socket.on('error', () => undefined);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(payload)}`,
    ...headers,
    'Connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${payload}`, () => socket.destroy());
}
