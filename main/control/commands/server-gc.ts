import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import got from 'got';
import { isFerryError } from '../../../protocol/errors';
import { transportError } from '../../remote/errors';
import { clientTransport } from '../../remote/transport';
import { SERVER_TOKEN_ENV } from '../../../server/cli';
import { TOKEN_FILE_NAME } from '../../../server/secrets';
import { printError, processIo, type CommandIo } from './args';
import { formatBytes, json } from './output';

export const SERVER_GC_USAGE = `Usage: ferry server gc --url URL [--data DIR | --token-file FILE] [--json]

Asks a running reference server to apply its retention policy and collect unreferenced blocks
now (it also does so on its own, every --gc-interval), and prints what it freed.

Options:
  --url URL          the server, e.g. http://127.0.0.1:8080 [required]
  --data DIR         the server's data directory: its token is read from DIR/token
  --token-file FILE  read the token from FILE (or set $${SERVER_TOKEN_ENV})
  --ca FILE          trust this private CA (PEM) for the server's https certificate
  --allow-insecure-http
                     allow plain http:// to a server that is not this computer
  --json             print the report as JSON
  -h, --help         show this help
`;

/** `ferry server gc`: POST /v1/maintenance/gc on a running server (docs/sync-api.md). */
export async function runServerGc(argv: string[], io: CommandIo = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // A failure is a line, or with --json one error object (as every client command's).
  const fail = (error: { code: string; message: string; retryable?: boolean }, line: string, asJson: boolean | undefined) =>
    printError(io, { retryable: false, ...error }, asJson ?? false, line);
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        url: { type: 'string' },
        data: { type: 'string' },
        'token-file': { type: 'string' },
        ca: { type: 'string' },
        'allow-insecure-http': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    fail({ code: 'usage', message: (error as Error).message }, `ferry server gc: ${(error as Error).message}\n\n${SERVER_GC_USAGE}`, argv.includes('--json'));
    return 2;
  }
  if (values.help) {
    io.out(SERVER_GC_USAGE);
    return 0;
  }
  const tokenFile = values['token-file'] ?? (values.data ? path.join(values.data, TOKEN_FILE_NAME) : undefined);
  if (!values.url || (!tokenFile && !env[SERVER_TOKEN_ENV])) {
    const problem = `give --url and a token (--data DIR, --token-file FILE or $${SERVER_TOKEN_ENV})`;
    fail({ code: 'usage', message: problem }, `ferry server gc: ${problem}\n\n${SERVER_GC_USAGE}`, values.json);
    return 2;
  }
  let token: string;
  try {
    token = (tokenFile ? readFileSync(tokenFile, 'utf8') : (env[SERVER_TOKEN_ENV] ?? '')).trim();
  } catch (error) {
    const problem = `cannot read the token: ${(error as Error).message}`;
    fail({ code: 'token_unreadable', message: problem }, `ferry server gc: ${problem}`, values.json);
    return 1;
  }
  let res: { statusCode: number; statusMessage?: string | undefined; body: string };
  try {
    const transport = clientTransport(values.url, { caFile: values.ca, allowInsecureHttp: values['allow-insecure-http'] });
    res = await got.post(new URL('/v1/maintenance/gc', values.url), {
      headers: { authorization: `Bearer ${token}` },
      throwHttpErrors: false,
      retry: { limit: 0 },
      ...(transport.ca ? { https: { certificateAuthority: [...tls.rootCertificates, transport.ca] } } : {}),
    });
  } catch (error) {
    const failure = isFerryError(error) ? error : transportError(error, undefined, { host: URL.canParse(values.url) ? new URL(values.url).host : undefined, caGiven: values.ca !== undefined });
    fail({ code: failure.code, message: `cannot reach ${values.url}: ${failure.message}`, retryable: failure.retryable }, `ferry server gc: cannot reach ${values.url}: ${failure.message} (${failure.code})`, values.json);
    return 1;
  }
  let body: Record<string, number> & { code?: string; message?: string } = {};
  try {
    body = JSON.parse(res.body) as typeof body;
  } catch {
    /* not JSON: the status says it */
  }
  if (res.statusCode < 200 || res.statusCode >= 300) {
    const code = body.code ?? `http_${res.statusCode}`;
    const message = body.message ?? res.statusMessage ?? `HTTP ${res.statusCode}`;
    fail({ code, message, retryable: res.statusCode >= 500 || res.statusCode === 429 }, `ferry server gc: ${message} (${body.code ?? res.statusCode})`, values.json);
    return 1;
  }
  io.out(
    values.json
      ? json(body)
      : [
          `Pruned ${body.prunedVersions} past versions and ${body.prunedTombstones} deleted files past the retention policy.`,
          `Collected ${body.blocksCollected} blocks (${formatBytes(body.bytesFreed ?? 0)}); deleted ${body.packsDeleted} packs, rewrote ${body.packsCompacted}.`,
          `Blocks stored now: ${formatBytes(body.bytesStored ?? 0)}, ${body.liveBlocks} referenced.`,
        ].join('\n'),
  );
  return 0;
}
