import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { serverPort } from '../helpers/server-port';

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
});
