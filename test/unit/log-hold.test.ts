import log from 'electron-log/node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, holdConsole, releaseConsole } from '../../main/logging';

// An agent's start says what runs first, and the warnings of its start after (a new-user try read
// two warnings above "Ferry agent running"); a review asked that none be lost however the start goes.
describe('console lines held while a start is said', () => {
  const written: string[] = [];
  let saved: typeof log.transports.console.writeFn;
  beforeEach(() => {
    written.length = 0;
    createLogger('hold-test'); // electron-log's defaults, before its console is caught
    saved = log.transports.console.writeFn;
    log.transports.console.writeFn = ({ message }) => void written.push(message.data.map(String).join(' '));
    vi.useFakeTimers();
  });
  afterEach(() => {
    releaseConsole();
    log.transports.console.writeFn = saved;
    vi.useRealTimers();
  });

  it('writes them, scrubbed and in order, once released, and what comes after at once', () => {
    const logger = createLogger('hold-test');
    holdConsole();
    logger.warn('could not reach the server', { token: 'fdt_' + 'Ab3-_x'.repeat(7) });
    logger.warn('second');
    expect(written).toEqual([]);
    releaseConsole();
    expect(written).toHaveLength(2);
    expect(written[0]).toContain('could not reach the server');
    expect(written[0]).not.toContain('Ab3-_x');
    expect(written[1]).toContain('second');
    logger.warn('after the start');
    expect(written).toHaveLength(3);
  });

  it('releases them by itself after a few seconds: a start that hangs still says its warnings', () => {
    const logger = createLogger('hold-test');
    holdConsole();
    logger.warn('the server does not answer');
    vi.advanceTimersByTime(4000);
    expect(written).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(written).toEqual([expect.stringContaining('the server does not answer')]);
  });

  it('releases them at exit', () => {
    const logger = createLogger('hold-test');
    holdConsole();
    logger.warn('said before an early exit');
    process.emit('exit', 1);
    expect(written).toEqual([expect.stringContaining('said before an early exit')]);
  });
});
