import net from 'node:net';
import { readFileSync } from 'node:fs';
import { waitFor } from './wait';

/** The lowest local port the kernel gives outgoing connections (Linux), else the usual default. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low) return low;
  } catch {
    // not Linux
  }
  return 32768;
}

/**
 * A free port for a server process (ferry server, PostgreSQL), kept for as long as it runs
 * (the chaos proxy points at it, restarts reuse it). Picked below the ephemeral range: a port there, free when picked, could be taken
 * as the local port of any outgoing connection (an agent's long poll) before the server binds
 * it, and stay taken (chaos seed 16883: "ferry server to listen on port 40571" timed out, the
 * port in use for two minutes).
 */
export async function serverPort(random: () => number = Math.random): Promise<number> {
  const high = ephemeralLow() - 1;
  const low = Math.min(20_000, high - 999);
  for (let tries = 0; tries < 100; tries++) {
    const port = low + Math.floor(random() * (high - low + 1));
    const server = net.createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }
  throw new Error(`no free port between ${low} and ${high}`);
}

export interface PortStartOptions {
  timeoutMs: number;
  /** How long a port may stay taken before the server gives it up for a new one. */
  takenMs: number;
  /** What is started, for the timeout's message. */
  what: string;
  /** Told of each port given up (the harness says who holds it). */
  onTaken?: (port: number) => void;
}

/**
 * Starts a server on `port`: `tryStart` resolves true once it listens, false when the port is in
 * use, and throws on any other failure (tried again until the deadline). The port was just freed
 * by the server's previous process, so the bind may race briefly; a port still taken after
 * `takenMs` went to another process meanwhile (chaos --guard seed 40209: taken for two minutes
 * while another seed picked ports), and the server moves to a new free port. Resolves with the
 * port it listens on.
 */
export async function startOnPort(port: number, tryStart: (port: number) => Promise<boolean>, o: PortStartOptions): Promise<number> {
  let current = port;
  let takenSince: number | null = null;
  await waitFor(
    async () => {
      if (await tryStart(current)) return true;
      takenSince ??= Date.now();
      if (Date.now() - takenSince > o.takenMs) {
        o.onTaken?.(current);
        current = await serverPort();
        takenSince = null;
      }
      return false;
    },
    { timeoutMs: o.timeoutMs, intervalMs: 100, message: `${o.what} to listen on port ${port} or a free one after it` },
  );
  return current;
}
