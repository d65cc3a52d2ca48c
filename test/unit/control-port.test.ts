import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listenOnStablePort, rememberedPort } from '../../main/control/control-port';
import { tempDirsEachTest } from '../helpers/local-temp';

describe('the control port a data directory keeps', () => {
  const dir = tempDirsEachTest('ferry-control-port-');
  /** A listen that takes any port but `taken`, and gives the next free one from `firstFree` for 0. */
  const listener = (taken = -1, firstFree = 40_000) => {
    let free = firstFree;
    return async (port: number) => {
      if (port === taken) throw Object.assign(new Error('in use'), { code: 'EADDRINUSE' });
      return { port: port === 0 ? free++ : port };
    };
  };

  it('comes back on the port it used last, and takes a free one when that was taken', async () => {
    const data = dir();
    expect((await listenOnStablePort(data, undefined, listener())).port).toBe(40_000);
    expect(rememberedPort(data)).toBe(40_000);
    expect((await listenOnStablePort(data, undefined, listener())).port).toBe(40_000);
    expect((await listenOnStablePort(data, undefined, listener(40_000, 41_000))).port).toBe(41_000);
    expect(rememberedPort(data)).toBe(41_000);
  });

  // A new user's try: started with --control-port 47201, restarted without it, the agent came up
  // on another port and the open tabs broke, though --help says the default is the one used last.
  it('remembers a port asked for, so a start without the flag comes back on it; an explicit 0 changes nothing', async () => {
    const data = dir();
    expect((await listenOnStablePort(data, 47_201, listener())).port).toBe(47_201);
    expect(readFileSync(path.join(data, 'control-port'), 'utf8').trim()).toBe('47201');
    expect((await listenOnStablePort(data, undefined, listener())).port).toBe(47_201);
    expect((await listenOnStablePort(data, 0, listener())).port).toBe(40_000);
    expect(rememberedPort(data)).toBe(47_201);
  });
});
