/**
 * Operations endpoints and shutdown of the real server over loopback (docs/sync-api.md,
 * "Operations"): /healthz, /readyz, /metrics, JSON-lines logs, SIGTERM. Runs on both backends.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangesPage } from '../../protocol';
import { TEST_BACKEND, freshRemoteStorage } from '../helpers/backends';
import { startServer } from '../../server/main';
import { metricSample as sample, rawConnect, type RawConnection } from '../helpers/raw-http';
import { makeTempDir, startTestServer, testFile, upsert, waitUntil, type TestServer } from '../helpers/server-harness';

const entry = path.resolve(__dirname, '../helpers/server-cli-entry.ts');
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t?.close();
});

async function plain(urlPath: string): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(t.server.url + urlPath);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}


describe('health and readiness', () => {
  it('answers /healthz and /readyz without a token while storage is reachable', async () => {
    const health = await plain('/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toEqual({ status: 'ok' });
    const ready = await plain('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toEqual({ status: 'ready' });
    // Everything else still wants the token.
    expect((await fetch(`${t.server.url}/v1/folders`)).status).toBe(401);
  });

  it('answers /readyz 503 with the reason when its storage cannot be reached, /healthz still 200', async () => {
    const dir = await makeTempDir();
    const own = TEST_BACKEND === 'postgres' ? await freshRemoteStorage() : null;
    const server = await startServer({ dataDir: dir, port: 0, host: '127.0.0.1', ...own?.options });
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      // PostgreSQL: the database goes away. Disk: the block directory does.
      if (own) await own.drop();
      else await fs.rm(path.join(dir, 'blocks', 'tmp'), { recursive: true });
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; reason: string };
      expect(body.status).toBe('not_ready');
      expect(body.reason).toMatch(own ? /^database unreachable: / : /^block store unreachable: ENOENT/);
      expect(body.reason).not.toContain(dir);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics', () => {
  it('counts requests by route template and status, tasks, waiting long polls and stored blocks, naming no path or token', async () => {
    const folder = `metrics-${randomUUID().slice(0, 8)}`;
    const before = (await plain('/metrics')).text;
    const written = sample(before, 'ferry_blocks_written_total') ?? 0;
    const bytes = sample(before, 'ferry_block_bytes_written_total') ?? 0;
    expect((await t.request('PUT', `/v1/folders/${folder}`, { body: {} })).status).toBe(201);
    const f = testFile(`metrics ${randomUUID()}`);
    expect((await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data })).status).toBe(201);
    // The same block again stores nothing new.
    expect((await t.request('PUT', `/v1/blocks/${f.hash}`, { raw: f.data })).status).toBe(200);
    expect((await t.request('POST', `/v1/folders/${folder}/sync`, { body: { operations: [upsert('k', 'secret-name.txt', f, null)] } })).status).toBe(200);
    expect((await t.request('GET', '/v1/no-such-endpoint')).status).toBe(404);

    const page = ChangesPage.parse((await t.request('GET', `/v1/folders/${folder}/changes`)).body);
    const next = new URL(page._links['upcoming-modifications']!.href, 'http://x');
    const poll = t.request('GET', `/v1/folders/${folder}/changes/wait?syncToken=${next.searchParams.get('syncToken')}&timeout=30`);
    const waiting = await waitUntil(
      async () => {
        const text = (await plain('/metrics')).text;
        return (sample(text, 'ferry_long_polls_waiting') ?? 0) >= 1 ? text : undefined;
      },
      10_000,
      'the long poll counted as waiting',
    );
    // A commit ends the poll.
    expect((await t.request('POST', `/v1/folders/${folder}/sync`, { body: { operations: [upsert('k2', 'b.txt', f, null)] } })).status).toBe(200);
    expect((await poll).body.changes).toBe(true);

    const res = await fetch(`${t.server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('ferry_http_requests_total{route="/v1/folders/{folderId}",method="PUT",status="201"}');
    expect(text).toContain('ferry_http_requests_total{route="/v1/blocks/{hash}",method="PUT",status="200"}');
    expect(text).toContain('ferry_http_requests_total{route="unmatched",method="other",status="404"}');
    expect(sample(text, 'ferry_http_request_duration_seconds_count{route="/v1/folders/{folderId}/sync",method="POST"}')).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/ferry_http_request_duration_seconds_bucket\{route="\/v1\/folders\/\{folderId\}\/sync",method="POST",le="\+Inf"\} \d+/);
    expect(sample(text, 'ferry_tasks{state="Queued"}')).toBe(0);
    expect(sample(text, 'ferry_tasks{state="Processing"}')).toBe(0);
    expect(sample(text, 'ferry_task_runs_total{outcome="completed"}')).toBeGreaterThanOrEqual(2);
    expect(sample(waiting, 'ferry_long_polls_waiting')).toBe(1);
    expect(sample(text, 'ferry_long_polls_waiting')).toBe(0);
    expect(sample(text, 'ferry_blocks_written_total')).toBe(written + 1);
    expect(sample(text, 'ferry_block_bytes_written_total')).toBe(bytes + f.data.length);
    // No folder, path, hash or token reaches the page.
    for (const secret of [folder, 'secret-name.txt', f.hash, t.server.token, 'no-such-endpoint']) expect(text).not.toContain(secret);
  });

  it('shows the stored bytes and live blocks of the last garbage collection', async () => {
    expect(sample((await plain('/metrics')).text, 'ferry_block_bytes_stored')).toBeUndefined();
    const report = await t.server.collectGarbage();
    const text = (await plain('/metrics')).text;
    expect(sample(text, 'ferry_block_bytes_stored')).toBe(report.bytesStored);
    expect(sample(text, 'ferry_blocks_live')).toBe(report.liveBlocks);
    expect(report.liveBlocks).toBeGreaterThanOrEqual(1);
  });
});

describe('the server process', () => {
  function run(args: string[]) {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_SERVER_TOKEN: TOKEN } });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, out: () => out, exited };
  }
  const TOKEN = `ops-test-token-${randomUUID()}`;

  it('writes JSON lines with --log-format json, without the token or a pairing code', async () => {
    const dir = await makeTempDir();
    const own = TEST_BACKEND === 'postgres' ? await freshRemoteStorage() : null;
    const storage = own ? ['--db', own.options.dbUrl, '--blocks', own.options.blocksUrl] : [];
    const p = run(['--data', dir, '--port', '0', '--log-format', 'json', '--verbose', ...storage]);
    try {
      const url = await waitUntil(() => /listening on (\S+)/.exec(p.out())?.[1], 30_000, `the server to listen (${p.out()})`);
      const code = 'ABCD-EFGH-JKLM-NPQR';
      expect((await fetch(`${url}/v1/pair`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })).status).toBeGreaterThanOrEqual(400);
      expect((await fetch(`${url}/v1/folders`, { headers: { authorization: `Bearer ${TOKEN}`, 'x-ferry-device': 'ops-test' } })).status).toBe(200);
      const file = path.join(dir, 'logs', 'server.log');
      const lines = await waitUntil(
        async () => {
          const text = await fs.readFile(file, 'utf8').catch(() => '');
          const all = text.split('\n').filter((l) => l.length > 0);
          return all.some((l) => l.includes('/v1/folders') && l.includes('"status":200')) ? all : undefined;
        },
        20_000,
        'the request logged',
      );
      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const line of parsed) {
        expect(typeof line.time).toBe('string');
        expect(['debug', 'info', 'warn', 'error']).toContain(line.level);
        expect(line.scope).toBe('server');
        expect(typeof line.msg).toBe('string');
      }
      const request = parsed.find((l) => l.msg === 'request' && l.path === '/v1/folders');
      expect(request).toMatchObject({ method: 'GET', status: 200, device: 'ops-test' });
      const all = lines.join('\n') + p.out();
      expect(all).not.toContain(TOKEN);
      expect(all).not.toContain(code);
    } finally {
      p.child.kill('SIGTERM');
      await p.exited;
      await own?.drop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  // It said nothing on SIGTERM: a stop that waited out its grace period read as a hang.
  it('on SIGTERM says what it waits for, finishes what comes in time, says what it cut off at the --shutdown-grace limit, and exits 0', async () => {
    const dir = await makeTempDir();
    const own = TEST_BACKEND === 'postgres' ? await freshRemoteStorage() : null;
    const storage = own ? ['--db', own.options.dbUrl, '--blocks', own.options.blocksUrl] : [];
    const p = run(['--data', dir, '--port', '0', '--shutdown-grace', '3s', ...storage]);
    const conns: RawConnection[] = [];
    try {
      const url = await waitUntil(() => /listening on (\S+)/.exec(p.out())?.[1], 30_000, `the server to listen (${p.out()})`);
      // Two requests in flight, their bodies sent in part: one is finished after the signal, one never.
      const body = '{}'.padEnd(20, ' ');
      for (const folder of ['finished', 'cut-off']) {
        const conn = await rawConnect(Number(new URL(url).port));
        conns.push(conn);
        const head = [`PUT /v1/folders/${folder} HTTP/1.1`, 'Host: 127.0.0.1', `Authorization: Bearer ${TOKEN}`, 'Content-Type: application/json', `Content-Length: ${body.length}`];
        conn.socket.write(`${head.join('\r\n')}\r\n\r\n${body[0]}`);
      }
      await waitUntil(async () => sample(await (await fetch(`${url}/metrics`)).text(), 'ferry_request_body_bytes_buffered') === 2, 10_000, 'both bodies being read');
      p.child.kill('SIGTERM');
      const stopping = await waitUntil(() => /^Ferry server stopping.*$/m.exec(p.out())?.[0], 10_000, `the stopping line (${p.out()})`);
      expect(stopping).toBe('Ferry server stopping (SIGTERM): finishing 2 requests in flight, up to 3s');
      const [finished, cutOff] = conns as [RawConnection, RawConnection];
      finished.socket.write(body.slice(1));
      const reply = await finished.reply(10_000);
      expect(reply.status).toBe(201);
      expect(await p.exited).toBe(0);
      expect(p.out()).toMatch(/^Ferry server stopped \(1 request cut off at the 3s limit\)$/m);
      await cutOff.closed;
      expect(cutOff.received()).toBe('');
    } finally {
      for (const conn of conns) conn.socket.destroy();
      p.child.kill('SIGKILL');
      await p.exited;
      await own?.drop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('on SIGTERM stops accepting, answers a waiting long poll at once (no changes: its client polls elsewhere), then exits 0', async () => {
    const dir = await makeTempDir();
    const own = TEST_BACKEND === 'postgres' ? await freshRemoteStorage() : null;
    const storage = own ? ['--db', own.options.dbUrl, '--blocks', own.options.blocksUrl] : [];
    const p = run(['--data', dir, '--port', '0', '--shutdown-grace', '30s', ...storage]);
    try {
      const url = await waitUntil(() => /listening on (\S+)/.exec(p.out())?.[1], 30_000, `the server to listen (${p.out()})`);
      const headers = { authorization: `Bearer ${TOKEN}` };
      expect((await fetch(`${url}/v1/folders/stop`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' })).status).toBe(201);
      const page = ChangesPage.parse(await (await fetch(`${url}/v1/folders/stop/changes`, { headers })).json());
      const token = new URL(page._links['upcoming-modifications']!.href, 'http://x').searchParams.get('syncToken');
      // A long poll of 20 s, waiting when the signal comes (the grace period is 30 s).
      const started = performance.now();
      const poll = fetch(`${url}/v1/folders/stop/changes/wait?syncToken=${token}&timeout=20`, { headers });
      await waitUntil(async () => sample(await (await fetch(`${url}/metrics`)).text(), 'ferry_long_polls_waiting') === 1, 10_000, 'the poll waiting');
      p.child.kill('SIGTERM');
      // Answered, not cut off, and not held for its 20 s: a stop no longer waits out the grace
      // period for polls that only wait (it held every SIGTERM 5 s by default).
      const answer = await poll;
      await waitUntil(() => /^Ferry server stopping/m.test(p.out()), 10_000, 'the stopping line');
      expect(p.out()).toMatch(/^Ferry server stopping \(SIGTERM\): nothing in flight; 1 waiting long poll answered now$/m);
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { changes: boolean }).changes).toBe(false);
      expect(performance.now() - started).toBeLessThan(20_000);
      expect(await p.exited).toBe(0);
      expect(p.out()).toMatch(/^Ferry server stopped$/m);
      // New connections are refused.
      expect(await fetch(`${url}/healthz`).then(() => false, () => true)).toBe(true);
    } finally {
      p.child.kill('SIGKILL');
      await p.exited;
      await own?.drop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
