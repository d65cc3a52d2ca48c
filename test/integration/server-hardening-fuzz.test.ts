import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawConnect } from '../helpers/raw-http';
import { mulberry32 } from '../helpers/seeded-random';
import { startTestServer, testFile, type TestServer } from '../helpers/server-harness';

// Issue 23: a fuzz of the server's request parsing. Random methods, targets, headers and
// bodies, written to raw sockets as they are (so also what no HTTP client would send),
// bounded in count and time and replayable from the seed. Every request must get an answer
// below 500 (a 504 `timeout` is a sync batch over its budget, not a fault) and the server
// must stay up.

const SEED = Number(process.env.FERRY_FUZZ_SEED ?? 23);
const REQUESTS = 400;
const IN_PARALLEL = 4;
const REPLY_DEADLINE_MS = 15_000;

let t: TestServer;
const file = testFile('fuzzed');
beforeAll(async () => {
  t = await startTestServer({ syncBudgetMs: 2000 });
  await t.request('PUT', `/v1/blocks/${file.hash}`, { raw: file.data });
  await t.request('PUT', '/v1/folders/docs');
});
afterAll(async () => {
  await t.close();
});

function plan(seed: number) {
  const rnd = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const chance = (p: number) => rnd() < p;
  const int = (n: number) => Math.floor(rnd() * n);
  const junk = (n: number) => Array.from({ length: n }, () => String.fromCharCode(pick([int(128), 0x20 + int(95), 0x80 + int(0x780), 0x202e, 0xd800 + int(0x800)]))).join('');

  // A lone surrogate cannot be percent-encoded as UTF-8: send its raw bytes' encoding instead.
  const encoded = (text: string) => {
    try {
      return encodeURIComponent(text);
    } catch {
      return '%ED%A0%80';
    }
  };
  const method = () => (chance(0.9) ? pick(['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']) : pick(['get', 'BREW', 'CONNECT', 'TRACE', 'X'.repeat(40)]));
  const segment = () =>
    pick([
      'docs',
      'nope',
      file.hash,
      'f'.repeat(64),
      't%34',
      '%zz',
      '%00',
      '%2F',
      '..',
      '.',
      '',
      encoded(junk(1 + int(6))),
      'x'.repeat(int(300)),
      '__proto__',
      'constructor',
    ]);
  const target = () => {
    const base = pick([
      () => `/v1/folders/${segment()}/sync${pick(['', '?mode=async', '?mode=sync', '?mode=bogus', '?mode=async&x=1', '?&&=='])}`,
      () => `/v1/folders/${segment()}/changes${pick(['', '?limit=5', '?limit=-1', '?syncToken=abc', '?cursor=%zz', '?limit=99999999999'])}`,
      () => `/v1/folders/${segment()}/changes/wait?timeout=${pick(['0', '1', '-5', 'x', '301'])}`,
      () => `/v1/folders/${segment()}`,
      () => '/v1/folders',
      () => `/v1/blocks/${segment()}`,
      () => pick(['/v1/blocks/missing', '/v1/blocks/batch', '/v1/blocks/fetch']),
      () => `/v1/tasks/${segment()}`,
      () => pick(['//', '//:99999', '//[', '//a:b@', '*', 'http://x/v1/folders', '/v1/../v1/folders', '/v1/folders#x', '/', '/v2']),
    ])();
    return chance(0.05) ? base.replace(/\//g, pick(['//', '\\', '/./'])) : base;
  };
  const operation = (i: number) =>
    pick([
      () => ({ key: `k${i}`, action: 'upsert', path: `p/${i}.txt`, size: file.data.length, mtime: 1, blocks: [file.hash], baseRevision: null }),
      () => ({ key: `k${i}`, action: 'upsert', kind: 'dir', path: `d${i}`, mtime: 1, baseRevision: null }),
      () => ({ key: `k${i}`, action: 'delete', path: `p/${i}.txt`, baseRevision: pick([null, '1', '0', 'x', 5]) }),
      () => ({ key: pick(['__proto__', junk(3), '', `k${i}`]), action: pick(['upsert', 'delete', 'rename', 7]), path: pick([junk(5), '.ferry./x', '../x', `q${i}`]), baseRevision: null }),
      () => ({ key: `k${i}`, action: 'upsert', path: `big${i}`, size: pick([-1, 1e300, 2 ** 53, 0]), mtime: pick([NaN, -1, 1]), blocks: pick([[], [file.hash], ['nothex'], null]), baseRevision: null }),
    ])();
  const body = (): string | undefined =>
    pick([
      () => undefined,
      () => '',
      () => JSON.stringify({ operations: Array.from({ length: 1 + int(5) }, (_, i) => operation(i)) }),
      () => JSON.stringify({ operations: [] }),
      () => JSON.stringify({ hashes: Array.from({ length: int(4) }, () => pick([file.hash, 'x', 5])) }),
      () => JSON.stringify({ label: pick(['L', junk(10), 5, null]) }),
      () => '['.repeat(1 + int(5000)) + ']'.repeat(int(5000)),
      () => '{"a":'.repeat(int(100)) + '1' + '}'.repeat(int(100)),
      () => junk(int(2000)),
      () => '{"__proto__": {"polluted": true}, "operations": [{"__proto__": 1}]}',
      () => '{"operations": [' + ' '.repeat(int(10_000)) + ']}',
      () => '\u0000'.repeat(int(50)),
    ])();
  const headers = (payload: string | undefined): string[] => {
    const out = ['Host: 127.0.0.1', 'Connection: close'];
    if (chance(0.85)) out.push(`Authorization: ${pick(['Bearer ' + t.server.token, 'Bearer ' + t.server.token, 'Bearer wrong', 'Basic abc', 'Bearer', 'bearer  ' + t.server.token + ' '])}`);
    if (chance(0.5)) out.push(`X-Tracking-Id: ${pick([`fz-${int(20)}`, `fz-${int(20)}`, junk(5).replace(/[\r\n]/g, ''), 'x'.repeat(200), ''])}`);
    if (chance(0.3)) out.push(`X-Ferry-Run: ${pick(['r;2026-01-01T00:00:00Z', 'r;2026 trackingId=FORGED', 'x'.repeat(300)])}`);
    if (chance(0.3)) out.push(`X-Ferry-Device: ${pick(['dev', 'a b', 'x'.repeat(200)])}`);
    if (chance(0.2)) out.push(`single-operation: ${pick(['1', '0', 'true', 'maybe'])}`);
    if (chance(0.2)) out.push(`Content-Type: ${pick(['application/json', 'text/plain', 'application/octet-stream'])}`);
    if (payload !== undefined) out.push(chance(0.2) ? 'Transfer-Encoding: chunked' : `Content-Length: ${Buffer.byteLength(payload)}`);
    if (chance(0.03)) out.push(pick(['Bad Header: x', 'X-Long: ' + 'y'.repeat(20_000), 'Content-Length: 5', 'Transfer-Encoding: gzip']));
    return out;
  };
  return Array.from({ length: REQUESTS }, () => {
    const payload = body();
    const h = headers(payload);
    const chunked = h.includes('Transfer-Encoding: chunked');
    const buf = payload === undefined ? '' : chunked ? `${Buffer.byteLength(payload).toString(16)}\r\n${payload}\r\n0\r\n\r\n` : payload;
    // A target with raw spaces or controls is a malformed request line: also worth sending.
    return { text: `${method()} ${target()} HTTP/1.1\r\n${h.join('\r\n')}\r\n\r\n${buf}`, chunked };
  });
}

describe(`fuzzed requests (seed ${SEED}, issue 23)`, () => {
  it(`answers ${REQUESTS} random requests below 500 and stays up`, async () => {
    const requests = plan(SEED);
    const faults: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const i = next++;
        const { text } = requests[i]!;
        const conn = await rawConnect(t.server.port);
        try {
          conn.socket.write(Buffer.from(text, 'utf8'));
          const reply = await conn.reply(REPLY_DEADLINE_MS, { head: text.startsWith('HEAD ') });
          const timedOutBatch = reply.status === 504 && reply.body.includes('"timeout"');
          if (!(reply.status >= 100 && reply.status < 500) && !timedOutBatch) faults.push(`#${i} ${reply.status} ${reply.body.slice(0, 200)} for ${JSON.stringify(text.slice(0, 300))}`);
        } catch (error) {
          faults.push(`#${i} no answer (${(error as Error).message.slice(0, 120)}) for ${JSON.stringify(text.slice(0, 300))}`);
        } finally {
          conn.socket.destroy();
        }
      }
    };
    await Promise.all(Array.from({ length: IN_PARALLEL }, worker));
    expect(faults).toEqual([]);
    // Still up and serving.
    const after = await t.request('GET', '/v1/folders');
    expect(after.status).toBe(200);
  }, 180_000);
});
