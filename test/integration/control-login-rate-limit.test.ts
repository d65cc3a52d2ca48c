import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../main/logging';
import { LOGIN_FAILURE_LIMIT, LOGIN_FAILURE_WINDOW_MS } from '../../main/control/control-login';
import { startControlServer, type ControlServer } from '../../main/control/control-server';
import { createFakeAgent } from '../fakes/control-fake-agent';
import { rawRequest } from '../helpers/control-http';
import { manualClock } from '../helpers/local-temp';

// Issue 23 item 10: failed web-UI sign-ins were not limited (2,000 guesses in 1.8 s, a warning
// line each). Now a burst of failures is refused with 429 and logged once.

const TOKEN = 'c'.repeat(64);
let server: ControlServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const openSession = (port: number, code: string) =>
  rawRequest({ port, path: '/api/session', method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }) });

describe('sign-in rate limit (issue 23 item 10)', () => {
  it('refuses every attempt with 429 after a burst of failures, logs it once, and lets a real code in once the window passes', async () => {
    const clock = manualClock();
    const lines: string[] = [];
    const capture = (message: string) => void lines.push(message);
    const log: Logger = { debug: capture, info: capture, warn: capture, error: capture, child: () => log };
    server = await startControlServer({ service: createFakeAgent(), token: TOKEN, now: clock.now, log });
    for (let i = 0; i < LOGIN_FAILURE_LIMIT; i++) expect((await openSession(server.port, `guess-${i}`)).status).toBe(401);
    const code = server.createLoginCode();
    for (let i = 0; i < 50; i++) {
      const limited = await openSession(server.port, i === 0 ? code : `guess-more-${i}`);
      expect(limited.status).toBe(429);
      expect(limited.json()).toMatchObject({ ok: false, error: { code: 'rate_limited', retryable: true } });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(lines.filter((l) => l.includes('rate-limited'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('sign-in refused'))).toHaveLength(LOGIN_FAILURE_LIMIT);
    clock.advance(LOGIN_FAILURE_WINDOW_MS);
    const signedIn = await openSession(server.port, code);
    expect(signedIn.status).toBe(200);
  });
});
