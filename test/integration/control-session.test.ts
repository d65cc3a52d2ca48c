import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../main/logging';
import { startControlServer } from '../../main/control/control-server';
import type { ControlServer } from '../../main/control/control-server';
import { createFakeAgent } from '../fakes/control-fake-agent';
import { callApi, rawRequest } from '../helpers/control-http';
import { manualClock } from '../helpers/local-temp';

const TOKEN = 'c'.repeat(64);
let server: ControlServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

function openSession(port: number, code: string) {
  return rawRequest({ port, path: '/api/session', method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }) });
}

describe('browser sign-in with login codes', () => {
  it('trades a code for the token exactly once, and the token then works', async () => {
    server = await startControlServer({ service: createFakeAgent(), token: TOKEN });
    const code = server.createLoginCode();
    const first = await openSession(server.port, code);
    expect(first.status).toBe(200);
    const token = (first.json() as { value: { token: string } }).value.token;
    expect(token).toBe(TOKEN);
    expect((await callApi(server.port, 'getStatus', {}, token)).status).toBe(200);

    const again = await openSession(server.port, code);
    expect(again.status).toBe(401);
    expect(again.json()).toMatchObject({ ok: false, error: { code: 'invalid_login_code' } });
  });

  it('refuses a code after ten minutes', async () => {
    const clock = manualClock();
    server = await startControlServer({ service: createFakeAgent(), token: TOKEN, now: clock.now });
    const fresh = server.createLoginCode();
    const stale = server.createLoginCode();
    clock.advance(9 * 60 * 1000);
    expect((await openSession(server.port, fresh)).status).toBe(200);
    clock.advance(60 * 1000 + 1);
    expect((await openSession(server.port, stale)).status).toBe(401);
  });

  it('refuses unknown codes and still checks the Host header', async () => {
    server = await startControlServer({ service: createFakeAgent(), token: TOKEN });
    expect((await openSession(server.port, 'made-up')).status).toBe(401);
    const code = server.createLoginCode();
    const rebinding = await rawRequest({
      port: server.port,
      path: '/api/session',
      method: 'POST',
      headers: { Host: 'attacker.example', 'Content-Type': 'application/json' },
      body: JSON.stringify({ code }),
    });
    expect(rebinding.status).toBe(403);
  });

  it('prints a login URL with the code in the fragment only', async () => {
    server = await startControlServer({ service: createFakeAgent(), token: TOKEN });
    const url = new URL(server.createLoginUrl());
    expect(url.origin).toBe(server.url);
    expect(url.pathname).toBe('/');
    expect(url.search).toBe('');
    expect(url.hash).toMatch(/^#login=[A-Za-z0-9_-]{20,}$/);
  });

  it('never logs the token or the code', async () => {
    const lines: string[] = [];
    const capture = (message: string, fields?: Record<string, unknown>) => void lines.push(message + JSON.stringify(fields ?? {}));
    const log: Logger = { debug: capture, info: capture, warn: capture, error: capture, child: () => log };
    server = await startControlServer({ service: createFakeAgent(), token: TOKEN, log });
    const code = server.createLoginCode();
    await openSession(server.port, code);
    await openSession(server.port, code);
    await callApi(server.port, 'getStatus', {}, TOKEN);
    expect(lines.some((line) => line.includes('session opened'))).toBe(true);
    expect(lines.join('\n')).not.toContain(TOKEN);
    expect(lines.join('\n')).not.toContain(code);
  });
});
