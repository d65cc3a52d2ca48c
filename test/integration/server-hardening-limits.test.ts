import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_OPERATIONS } from '../../protocol';
import { SERVER_DEFAULTS } from '../../server/main';
import { TEST_BACKEND } from '../helpers/backends';
import { closedWithin, metricSample, rawConnect, rawRequest } from '../helpers/raw-http';
import { serversPerTest, type TestServer } from '../helpers/server-harness';
import { waitFor } from '../helpers/wait';

// Issue 23 items 2 and 3: bodies that stall the event loop or hold sockets. Every test talks
// to a real server over loopback, most of them through raw sockets.

const { cleanups, started } = serversPerTest();

function head(t: TestServer, method: string, target: string, extra: string[] = [], auth = true): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', ...(auth ? [`Authorization: Bearer ${t.server.token}`] : []), ...extra];
  return lines.join('\r\n') + '\r\n\r\n';
}

describe('JSON bodies (issue 23 item 2)', () => {
  it('refuses deeply nested JSON before parsing it, and other requests are answered meanwhile', async () => {
    const t = await started();
    await t.request('PUT', '/v1/folders/docs');
    const depth = 4 * 1024 * 1024;
    const nested = '['.repeat(depth) + ']'.repeat(depth);
    const [deep, list] = await Promise.all([t.request('POST', '/v1/folders/docs/sync', { raw: nested }), t.request('GET', '/v1/folders')]);
    expect(deep.status).toBe(400);
    expect(deep.body).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('nests deeper than 16') });
    expect(list.status).toBe(200);
    // Brackets inside strings are not nesting: a batch whose path is full of them is judged on its merits.
    const bracketPath = await t.request('POST', '/v1/folders/docs/sync', {
      body: { operations: [{ key: 'k', action: 'upsert', kind: 'dir', path: '[['.repeat(40) + '\\"{{', mtime: 1, baseRevision: null }] },
    });
    expect(bracketPath.status).toBe(400);
    expect(bracketPath.body.code).toBe('invalid_path'); // the backslash, not the brackets
  });

  it('takes the largest legitimate batch: 10,000 operations with 1 KiB paths', async () => {
    const t = await started();
    await t.request('PUT', '/v1/folders/big');
    const operations = Array.from({ length: MAX_BATCH_OPERATIONS }, (_, i) => ({
      key: `op-${i}`,
      action: 'delete',
      path: `${'d'.repeat(200)}/${'e'.repeat(200)}/${'f'.repeat(200)}/${'g'.repeat(200)}/${'h'.repeat(200)}/${String(i).padStart(12, '0')}`,
      baseRevision: '1234567',
    }));
    const body = JSON.stringify({ operations });
    expect(body.length).toBeGreaterThan(10_000_000);
    expect(body.length).toBeLessThan(SERVER_DEFAULTS.maxBodyBytes);
    const res = await t.request('POST', '/v1/folders/big/sync?mode=async', { raw: body });
    expect(res.status).toBe(202);
  }, 60_000);

  it('sizes the small JSON requests to their largest legitimate form (413 beyond)', async () => {
    const t = await started();
    const hashes = Array.from({ length: 10_000 }, (_, i) => i.toString(16).padStart(64, '0'));
    expect((await t.request('POST', '/v1/blocks/missing', { body: { hashes } })).status).toBe(200);
    const tooMany = JSON.stringify({ hashes, padding: 'x'.repeat(1024 * 1024) });
    expect((await t.request('POST', '/v1/blocks/missing', { raw: tooMany })).status).toBe(413);
    expect((await t.request('PUT', '/v1/folders/docs', { body: { label: 'x'.repeat(100 * 1024) } })).status).toBe(413);
    expect((await t.request('PUT', '/v1/folders/docs', { body: { label: 'Docs' } })).status).toBe(201);
    // On PostgreSQL + S3 the 10,000-hash check asks the bucket once per hash (about 30 s on
    // s3rver); what is tested here is which bodies are read, not how fast.
  }, TEST_BACKEND === 'postgres' ? 120_000 : undefined);

  it('refuses a body with 503 when the bodies being read at once would go over the memory budget', async () => {
    const t = await started({ maxBodyBufferBytes: 1_600_000 });
    await t.request('PUT', '/v1/folders/docs');
    // A first body, held half-sent: its bytes stay in memory while the client takes its time.
    const first = await rawConnect(t.server.port);
    cleanups.push(async () => void first.socket.destroy());
    const declared = 1_500_000;
    first.socket.write(head(t, 'POST', '/v1/folders/docs/sync', ['Content-Type: application/json', `Content-Length: ${declared}`]));
    first.socket.write('{"operations": [' + ' '.repeat(1_400_000));
    // The server has read what was sent of it (a second body read in between took the budget first,
    // and the first was the one refused: on a loaded machine, over PostgreSQL).
    await waitFor(async () => (metricSample(await (await fetch(`${t.server.url}/metrics`)).text(), 'ferry_request_body_bytes_buffered') ?? 0) >= 1_400_000, {
      timeoutMs: 10_000,
      message: 'the first body read as far as it was sent',
    });
    await waitFor(async () => {
      const second = await t.request('POST', '/v1/folders/docs/sync', { raw: JSON.stringify({ operations: [], pad: ' '.repeat(300_000) }) });
      return second.status === 503 && second.headers.get('retry-after') === '1' && second.body.code === 'unavailable';
    }, { timeoutMs: 10_000, message: 'the second body refused while the first is held' });
    // Once the first is done, its bytes are given back.
    first.socket.write(' '.repeat(declared - 1_400_000 - 16 - 2) + ']}');
    expect((await first.reply()).status).toBe(400); // an empty batch: invalid, but read and answered
    const third = await t.request('POST', '/v1/folders/docs/sync', { raw: JSON.stringify({ operations: [], pad: ' '.repeat(300_000) }) });
    expect(third.status).toBe(400);
    expect(metricSample(await (await fetch(`${t.server.url}/metrics`)).text(), 'ferry_request_body_bytes_buffered')).toBe(0);
  });
});

describe('slow and refused bodies (issue 23 item 3)', () => {
  it('closes the connection after refusing a request whose body is still coming (401)', async () => {
    const t = await started();
    const conn = await rawConnect(t.server.port);
    cleanups.push(async () => void conn.socket.destroy());
    conn.socket.write(head(t, 'POST', '/v1/folders/docs/sync', ['Transfer-Encoding: chunked'], false) + '1\r\n[\r\n');
    const reply = await conn.reply();
    expect(reply.status).toBe(401);
    expect(reply.headers.connection).toBe('close');
    expect(await closedWithin(conn, 5000)).toBe(true);
  });

  it('closes the connection after a 413 declared up front', async () => {
    const t = await started();
    const conn = await rawConnect(t.server.port);
    cleanups.push(async () => void conn.socket.destroy());
    conn.socket.write(head(t, 'PUT', '/v1/folders/docs', ['Content-Type: application/json', 'Content-Length: 1000000']) + '{"label":');
    const reply = await conn.reply();
    expect(reply.status).toBe(413);
    expect(await closedWithin(conn, 5000)).toBe(true);
  });

  it('keeps the connection open after an answer whose body was read (keep-alive works)', async () => {
    const t = await started();
    const conn = await rawConnect(t.server.port);
    cleanups.push(async () => void conn.socket.destroy());
    conn.socket.write(head(t, 'PUT', '/v1/folders/docs', ['Content-Type: application/json', 'Content-Length: 2']) + '{}');
    expect((await conn.reply()).status).toBe(201);
    expect(conn.isClosed()).toBe(false);
  });

  it('cuts off a body that stops sending', async () => {
    const t = await started({ bodyIdleMs: 300, bodyGraceMs: 60_000 });
    const conn = await rawConnect(t.server.port);
    cleanups.push(async () => void conn.socket.destroy());
    conn.socket.write(head(t, 'PUT', '/v1/folders/docs', ['Transfer-Encoding: chunked']) + '1\r\n{\r\n');
    expect(await closedWithin(conn, 5000)).toBe(true);
    expect((await t.request('GET', '/v1/folders')).status).toBe(200);
  });

  it('cuts off a body that trickles below the minimum rate', async () => {
    const t = await started({ bodyIdleMs: 60_000, bodyGraceMs: 500, minBodyBytesPerSecond: 1000 });
    const conn = await rawConnect(t.server.port);
    cleanups.push(async () => void conn.socket.destroy());
    conn.socket.write(head(t, 'PUT', '/v1/folders/docs', ['Transfer-Encoding: chunked']));
    const trickle = setInterval(() => {
      if (!conn.isClosed()) conn.socket.write('1\r\n \r\n');
    }, 50);
    cleanups.push(async () => clearInterval(trickle));
    expect(await closedWithin(conn, 5000)).toBe(true);
  });

  it('caps connections from one client: one over the cap gets 503 and is closed; a freed slot is usable again', async () => {
    const t = await started({ maxConnectionsPerClient: 3 });
    const open = await Promise.all([0, 1, 2].map(() => rawConnect(t.server.port)));
    cleanups.push(async () => open.forEach((c) => c.socket.destroy()));
    // Each of the three holds its slot with a real request on a kept-alive connection.
    for (const c of open) {
      c.socket.write(head(t, 'GET', '/v1/folders'));
      expect((await c.reply()).status).toBe(200);
    }
    const over = await rawRequest(t.server.port, head(t, 'GET', '/v1/folders'));
    expect(over.status).toBe(503);
    expect(over.headers['retry-after']).toBe('1');
    open[0]!.socket.destroy();
    await waitFor(async () => (await rawRequest(t.server.port, head(t, 'GET', '/v1/folders', [`X-Tracking-Id: ${randomUUID()}`]))).status === 200, {
      timeoutMs: 5000,
      message: 'a connection accepted once a slot is free',
    });
  });
});
