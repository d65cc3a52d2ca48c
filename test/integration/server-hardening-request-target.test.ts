import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnFerry } from '../helpers/ferry-cli';
import { rawRequest } from '../helpers/raw-http';
import { makeTempDir, serversPerTest, type TestServer } from '../helpers/server-harness';

// Issue 23 item 1: `GET //` (and friends) used to throw from the URL parser outside every
// try, and the rejected promise ended the server process. A target that is not a plain
// path is refused with 400, with or without a token, and the server keeps answering.

const { cleanups, started } = serversPerTest();

const HOSTILE_TARGETS = ['//', '//:99999', '//[', '//a:b@', '//a:b@/v1/folders', '*', 'http://ferry.invalid/v1/folders', 'v1/folders', '/v1/folders#frag'];

function get(target: string, token?: string): string {
  return `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}Connection: close\r\n\r\n`;
}

describe('hostile request targets (issue 23 item 1)', () => {
  let t: TestServer;

  it('refuses every target that is not a single-slash path with 400, and stays up', async () => {
    t = await started();
    for (const target of HOSTILE_TARGETS) {
      for (const token of [undefined, t.server.token]) {
        const reply = await rawRequest(t.server.port, get(target, token));
        expect({ target, token: Boolean(token), status: reply.status }).toEqual({ target, token: Boolean(token), status: 400 });
        expect(JSON.parse(reply.body)).toMatchObject({ code: 'invalid_request' });
      }
    }
    // The same server still serves a real request.
    expect((await t.request('GET', '/v1/folders')).status).toBe(200);
  });

  it('keeps the query of a normal target, including odd percent-encoding', async () => {
    t = await started();
    await t.request('PUT', '/v1/folders/docs');
    const reply = await rawRequest(t.server.port, get('/v1/folders/docs/changes?limit=%zz', t.server.token));
    expect(reply.status).toBe(400);
    expect((await rawRequest(t.server.port, get('/v1/folders/docs/changes?limit=5', t.server.token))).status).toBe(200);
  });

  it('answers CONNECT with 405 instead of dropping the connection (fuzz seed 23)', async () => {
    t = await started();
    for (const target of ['/v1/folders', '127.0.0.1:443']) {
      const reply = await rawRequest(t.server.port, `CONNECT ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      expect(reply.status).toBe(405);
      expect(JSON.parse(reply.body)).toMatchObject({ code: 'method_not_allowed' });
    }
    expect((await t.request('GET', '/v1/folders')).status).toBe(200);
  });

  it('a `ferry server` process answers `//` with 400 and keeps running', async () => {
    const dir = await makeTempDir();
    cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
    const server = spawnFerry(['server', '--data', path.join(dir, 'server'), '--port', '0']);
    cleanups.push(async () => void (await server.stop()));
    const port = Number((await server.line(/listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]);
    for (const target of HOSTILE_TARGETS) expect((await rawRequest(port, get(target))).status).toBe(400);
    expect((await rawRequest(port, get('/v1/folders'))).status).toBe(401);
    expect(server.child.exitCode).toBeNull();
  }, 30_000);
});
