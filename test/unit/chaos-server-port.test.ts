import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { serverPort, startOnPort } from '../helpers/server-port';

// Chaos seed 16883: the harness picked the server's port by binding port 0, which hands out a
// port of the ephemeral range; before the server bound it, an outgoing connection of another
// seed's agent took it as its local port, and "ferry server to listen on port 40571" timed out
// after two minutes. The server's port is now picked below that range, and a taken one is skipped.
describe('the chaos harness\'s server port', () => {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);

  it('chaos seed 16883: is below the ephemeral range, free, and not the one taken', async () => {
    const port = await serverPort();
    expect(port).toBeGreaterThanOrEqual(1024);
    expect(port).toBeLessThan(low!);

    // Hold the first candidate: the next is taken instead.
    const candidates = [0.25, 0.25, 0.75];
    const taken = await serverPort(() => candidates[0]!);
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(taken, '127.0.0.1', resolve));
    try {
      const next = await serverPort(() => candidates.shift()!);
      expect(next).not.toBe(taken);
      expect(next).toBeLessThan(low!);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  /** A listener on `port` (resolves null when the port is in use). */
  const listen = (port: number) =>
    new Promise<net.Server | null>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(null) : reject(e)));
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  const close = (server: net.Server | null) => new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));

  it('chaos seed 40209: a port another process keeps is given up for a free one; one freed soon is kept', async () => {
    const port = await serverPort();
    const holder = await listen(port);
    const started: net.Server[] = [];
    const tryStart = async (p: number) => {
      const server = await listen(p);
      if (server) started.push(server);
      return server !== null;
    };
    const given: number[] = [];
    try {
      const moved = await startOnPort(port, tryStart, { timeoutMs: 10_000, takenMs: 300, what: 'test server', onTaken: (p) => given.push(p) });
      expect(moved).not.toBe(port);
      expect(given).toEqual([port]);
      expect(started.map((s) => (s.address() as net.AddressInfo).port)).toEqual([moved]);

      // Freed within the wait (the previous process still closing): the server keeps its port.
      const second = await serverPort();
      const briefly = await listen(second);
      setTimeout(() => void close(briefly), 150);
      expect(await startOnPort(second, tryStart, { timeoutMs: 10_000, takenMs: 5_000, what: 'test server' })).toBe(second);
    } finally {
      await close(holder);
      for (const s of started) await close(s);
    }
  });
});
