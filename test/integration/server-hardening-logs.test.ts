import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureLogging, formatFieldValue } from '../../main/logging';
import { rawConnect } from '../helpers/raw-http';
import { startTestServer, type TestServer } from '../helpers/server-harness';
import { waitFor } from '../helpers/wait';

// Issue 23 item 10 against the real server and its real log file: a header value cannot make
// a log line show fields that were never there, and a client that leaves mid-body is logged
// as an abort, not as a server fault.

let t: TestServer;
let logFile = '';
const logText = () => {
  try {
    return readFileSync(logFile, 'utf8');
  } catch {
    return '';
  }
};

/** The fields of one `key=value` log line: bare values or JSON-quoted ones. */
function fieldsOf(line: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const m of line.matchAll(/ (\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)) out.push([m[1]!, m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!]);
  return out;
}

beforeAll(async () => {
  t = await startTestServer();
  logFile = path.join(t.dataDir, 'logs', 'test-server.log');
  configureLogging({ level: 'info', file: logFile, console: false });
});
afterAll(async () => {
  configureLogging({ level: 'warn', console: false });
  await t.close();
});

describe('server log lines (issue 23 item 10)', () => {
  it('quotes a header value that carries spaces and =, so no field is forged', async () => {
    const forged = 'r;2026 trackingId=FORGED method=DELETE path=/v1/everything status=200';
    const trackingId = 'real-tracking-id-1';
    expect((await t.request('GET', '/v1/folders', { headers: { 'x-ferry-run': forged }, trackingId })).status).toBe(200);
    const line = await waitFor(() => logText().split('\n').find((l) => l.includes(`trackingId=${trackingId}`) && l.includes(' request ')), {
      message: 'the request line in the log',
    });
    const fields = fieldsOf(line);
    expect(fields.filter(([k]) => k === 'trackingId')).toEqual([['trackingId', trackingId]]);
    expect(fields.filter(([k]) => k === 'method')).toEqual([['method', 'GET']]);
    expect(fields.filter(([k]) => k === 'path')).toEqual([['path', '/v1/folders']]);
    expect(fields.find(([k]) => k === 'run')).toEqual(['run', forged]);
  });

  it('logs a client that leaves mid-body as aborted, with no server fault', async () => {
    await t.request('PUT', '/v1/folders/docs');
    const conn = await rawConnect(t.server.port);
    const trackingId = 'leaves-mid-body-1';
    conn.socket.write(
      [
        'POST /v1/folders/docs/sync HTTP/1.1',
        'Host: 127.0.0.1',
        `Authorization: Bearer ${t.server.token}`,
        `X-Tracking-Id: ${trackingId}`,
        'Content-Type: application/json',
        'Content-Length: 100000',
        // Node answers 100 Continue as it hands the request to the server: then it is under way.
        'Expect: 100-continue',
        '',
        '',
      ].join('\r\n'),
    );
    await waitFor(() => conn.received().includes('100 Continue'), { message: 'the server to take the request' });
    conn.socket.write('{"operations": [');
    conn.socket.destroy();
    const line = await waitFor(() => logText().split('\n').find((l) => l.includes(`trackingId=${trackingId}`) && l.includes(' request ')), {
      message: 'the request line of the aborted request',
    });
    expect(fieldsOf(line).find(([k]) => k === 'status')).toEqual(['status', 'aborted']);
    const errors = logText()
      .split('\n')
      .filter((l) => l.includes(trackingId) && /\[error\]/.test(l));
    expect(errors).toEqual([]);
  });
});

describe('formatFieldValue', () => {
  it('shows plain values bare and quotes and escapes everything else', () => {
    expect(formatFieldValue('GET')).toBe('GET');
    expect(formatFieldValue(42)).toBe('42');
    expect(formatFieldValue('a b')).toBe('"a b"');
    expect(formatFieldValue('k=v')).toBe('"k=v"');
    expect(formatFieldValue('line\nnext')).toBe('"line\\nnext"');
    expect(formatFieldValue('nel\u0085 ls\u2028')).toBe('"nel\\u0085 ls\\u2028"');
    expect(formatFieldValue('say "hi"')).toBe('"say \\"hi\\""');
    expect(formatFieldValue('')).toBe('""');
  });
});
