import { FerryError } from '../../protocol/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startControlServer } from '../../main/control/control-server';
import type { ControlServer } from '../../main/control/control-server';
import { createControlClient } from '../../main/control/control-client';
import type { AgentEvent } from '../../shared/ui-contract';
import { createFakeAgent, makeQueueItems } from '../fakes/control-fake-agent';
import type { FakeAgent } from '../fakes/control-fake-agent';
import { callApi, rawRequest } from '../helpers/control-http';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';
import { testSettings } from '../helpers/agent-settings';

const TOKEN = 'a'.repeat(64);
let agent: FakeAgent;
let server: ControlServer;
let temp: { dir: string; cleanup: () => void };
let rendererDir: string;

beforeAll(async () => {
  temp = makeTempDir('ferry-control-');
  rendererDir = path.join(temp.dir, 'renderer');
  mkdirSync(rendererDir);
  writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Ferry</title>');
  writeFileSync(path.join(rendererDir, 'app.js'), 'export {};');
  writeFileSync(path.join(rendererDir, 'styles.css'), 'body{}');
  writeFileSync(path.join(temp.dir, 'secret.txt'), 'do not serve me');
  agent = createFakeAgent({ items: makeQueueItems(30, { failedEvery: 3 }) });
  server = await startControlServer({ service: agent, token: TOKEN, rendererDir, port: 0 });
});

afterAll(async () => {
  await server.close();
  temp.cleanup();
});

describe('control API authentication', () => {
  it('refuses a call without a token (401)', async () => {
    const res = await callApi(server.port, 'getStatus', {}, undefined);
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
  });

  it('refuses a wrong token (401)', async () => {
    const res = await callApi(server.port, 'getStatus', {}, 'b'.repeat(64));
    expect(res.status).toBe(401);
  });

  it('ignores a cookie carrying the token (401)', async () => {
    const res = await callApi(server.port, 'getStatus', {}, undefined, { Cookie: `token=${TOKEN}; ferry=${TOKEN}` });
    expect(res.status).toBe(401);
  });

  it('refuses a foreign Host header even with the right token (403 bad_host)', async () => {
    for (const host of ['evil.example:' + server.port, '127.0.0.1:1', 'localhost']) {
      const res = await callApi(server.port, 'getStatus', {}, TOKEN, { Host: host });
      expect(res.status, host).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'bad_host' } });
    }
  });

  it('checks the Host header on static files and the event stream too', async () => {
    expect((await rawRequest({ port: server.port, path: '/', headers: { Host: 'rebind.example' } })).status).toBe(403);
    const events = await rawRequest({ port: server.port, path: '/api/events', headers: { Host: 'rebind.example', Authorization: `Bearer ${TOKEN}` } });
    expect(events.status).toBe(403);
  });

  it('refuses a cross-origin browser request (403 bad_origin)', async () => {
    const res = await callApi(server.port, 'getStatus', {}, TOKEN, { Origin: 'http://evil.example' });
    expect(res.status).toBe(403);
  });

  it('answers a good request with the CallResult envelope (200)', async () => {
    for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`]) {
      const res = await callApi(server.port, 'getStatus', {}, TOKEN, { Host: host, Origin: `http://${host}` });
      expect(res.status).toBe(200);
      const body = res.json() as { ok: boolean; value: { counts: Record<string, number> } };
      expect(body.ok).toBe(true);
      expect(body.value.counts.failed).toBe(10);
    }
  });

  it('refuses the event stream without a token', async () => {
    expect((await rawRequest({ port: server.port, path: '/api/events' })).status).toBe(401);
  });
});

describe('control API calls', () => {
  it('answers 404 unknown_method for a method outside the contract', async () => {
    const res = await callApi(server.port, 'deleteEverything', {}, TOKEN);
    expect(res.status).toBe(404);
    expect(res.json()).toMatchObject({ ok: false, error: { code: 'unknown_method' } });
  });

  it('answers 400 with field names for invalid input', async () => {
    const res = await callApi(server.port, 'listQueue', { state: 'sideways', limit: 5000 }, TOKEN);
    expect(res.status).toBe(400);
    const body = res.json() as { error: { code: string; fields: Record<string, string> } };
    expect(body.error.code).toBe('invalid_input');
    expect(Object.keys(body.error.fields).sort()).toEqual(['limit', 'state']);
  });

  it('answers invalid JSON with 400 invalid_json', async () => {
    const res = await rawRequest({
      port: server.port,
      path: '/api/call/getStatus',
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: '{nope',
    });
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'invalid_json' } });
  });

  it('pages the queue filtered by state', async () => {
    const res = await callApi(server.port, 'listQueue', { state: 'failed', offset: 2, limit: 3 }, TOKEN);
    const body = res.json() as { value: { items: Array<{ id: number; state: string }>; total: number } };
    expect(body.value.total).toBe(10);
    expect(body.value.items.map((item) => item.id)).toEqual([9, 12, 15]);
    expect(new Set(body.value.items.map((item) => item.state))).toEqual(new Set(['failed']));
  });

  it('passes a domain error from the agent through with its code and status', async () => {
    const res = await callApi(server.port, 'retry', { id: 1 }, TOKEN);
    expect(res.status).toBe(409);
    expect(res.json()).toMatchObject({ ok: false, error: { code: 'not_failed', retryable: false } });
  });

  it("answers the sync server's refusal of the device's credentials as 502, not as this API's own 401", async () => {
    // Refused: a 401 from a handler signed the web UI out (the UI takes 401 for its own token).
    const refusing = {
      ...agent,
      handlers: { ...agent.handlers, getHistory: async () => Promise.reject(new FerryError('unauthorized', 'The sync server refused this device', { status: 401 })) },
    };
    const other = await startControlServer({ service: refusing, token: TOKEN, rendererDir, port: 0 });
    try {
      const res = await callApi(other.port, 'getHistory', { folderId: 'docs', path: 'a.txt' }, TOKEN);
      expect(res.status).toBe(502);
      expect(res.json()).toMatchObject({ ok: false, error: { code: 'unauthorized', message: 'The sync server refused this device' } });
    } finally {
      await other.close();
    }
  });

  it('rejects a GET on a call route with 405', async () => {
    const res = await rawRequest({ port: server.port, path: '/api/call/getStatus', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(405);
  });
});

describe('settings validation', () => {
  const { token: _token, ...valid } = testSettings('https://sync.example.com', 'unused', [{ localPath: '/home/ada/Documents', remoteId: 'docs' }]);

  it('reports every invalid field by path with invalid_settings', async () => {
    const res = await callApi(
      server.port,
      'updateSettings',
      { ...valid, serverUrl: 'ftp://nope', concurrency: 0, folders: [{ localPath: '/x', remoteId: '-bad id' }] },
      TOKEN,
    );
    expect(res.status).toBe(400);
    const body = res.json() as { ok: false; error: { code: string; fields: Record<string, string> } };
    expect(body.error.code).toBe('invalid_settings');
    expect(Object.keys(body.error.fields).sort()).toEqual(['concurrency', 'folders.0.remoteId', 'serverUrl']);
    expect(body.error.fields.serverUrl).toMatch(/http/);
  });

  it("passes the agent's own field errors through (a relative folder path)", async () => {
    const res = await callApi(server.port, 'updateSettings', { ...valid, folders: [{ localPath: 'relative/dir', remoteId: 'docs' }] }, TOKEN);
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ ok: false, error: { code: 'invalid_settings', fields: { 'folders.0.localPath': 'use an absolute path' } } });
  });

  it('saves valid settings without echoing the token', async () => {
    const res = await callApi(server.port, 'updateSettings', { ...valid, token: 'server-secret', concurrency: 8 }, TOKEN);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('server-secret');
    expect(res.json()).toMatchObject({ ok: true, value: { concurrency: 8, hasToken: true } });
  });
});

describe('control API events', () => {
  it('streams the current status first, then an event caused by an action', async () => {
    const client = createControlClient({ url: server.url, token: TOKEN });
    const abort = new AbortController();
    const seen: AgentEvent[] = [];
    const reading = (async () => {
      for await (const event of client.events(abort.signal)) seen.push(event);
    })();
    await waitFor(() => seen.some((event) => event.type === 'status'), { message: 'initial status event' });
    const failedBefore = agent.queue.filter((item) => item.state === 'failed').length;
    const { retried } = await client.call('retry', { all: true });
    expect(retried).toBe(failedBefore);
    const queueEvent = await waitFor(() => seen.find((event) => event.type === 'queue'), { message: 'queue event' });
    expect(queueEvent.type === 'queue' && queueEvent.items.every((item) => item.state === 'pending')).toBe(true);
    abort.abort();
    await reading;
    await waitFor(() => agent.listenerCount() === 0, { message: 'listener released after the client left' });
  });

  it('sends heartbeats as comments and releases the listener on server close', async () => {
    const local = createFakeAgent();
    const quick = await startControlServer({ service: local, token: TOKEN, heartbeatMs: 20 });
    const res = await fetch(`${quick.url}/api/events`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    await waitFor(async () => {
      const { value } = await reader.read();
      text += decoder.decode(value);
      return text.includes(': heartbeat');
    }, { message: 'heartbeat comment' });
    expect(local.listenerCount()).toBe(1);
    await quick.close();
    await waitFor(() => local.listenerCount() === 0, { message: 'listener released at close' });
  });
});

describe('static renderer', () => {
  it('serves index.html at / with a strict CSP and the right content type', async () => {
    const res = await rawRequest({ port: server.port, path: '/' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('serves scripts and styles with their content types', async () => {
    expect((await rawRequest({ port: server.port, path: '/app.js' })).headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await rawRequest({ port: server.port, path: '/styles.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('refuses path traversal in every spelling', async () => {
    for (const attempt of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%2e%2e%5csecret.txt', '/./../secret.txt', '/%00']) {
      const res = await rawRequest({ port: server.port, path: attempt });
      expect(res.status, attempt).toBe(404);
      expect(res.text).not.toContain('do not serve me');
    }
  });

  it('answers 404 for a missing file and 405 for a POST', async () => {
    expect((await rawRequest({ port: server.port, path: '/nope.js' })).status).toBe(404);
    expect((await rawRequest({ port: server.port, path: '/', method: 'POST' })).status).toBe(405);
  });
});
