import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FerryError } from '../protocol';
import type { LogLevel } from '../main/logging';
import { resolveToken } from '../main/control/token-source';
import { SERVER_DEFAULTS, type ServerOptions } from './main';
import { parseStorageFlags } from './storage/urls';

export const SERVER_USAGE = `Usage: ferry server --data DIR [options]

Runs the reference Sync API v1 server.

Options:
  --data DIR             data directory (SQLite database, blocks, token) [required]
  --db postgres://…      keep metadata in PostgreSQL instead of DIR/server.db (several server
                         processes may share it); 'ferry server migrate --db URL' migrates it
  --blocks s3://BUCKET?endpoint=URL&region=R
                         keep blocks in an S3-compatible bucket instead of DIR/blocks (credentials
                         from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the usual AWS sources);
                         'ferry server migrate --blocks URL' makes the bucket
  --port N               port to listen on; 0 picks a free one (default ${SERVER_DEFAULTS.port})
  --host ADDR            address to bind (default ${SERVER_DEFAULTS.host})
  --token-file FILE      read the bearer token from FILE (or set $FERRY_SERVER_TOKEN); without
                         either, one is generated and saved in DIR/token (mode 0600)
  --token T              the token itself: every local user sees it in ps (a warning says so)
  --sync-budget-ms N     time a mode=sync batch may take before 504 (default ${SERVER_DEFAULTS.syncBudgetMs})
  --token-ttl DURATION   lifetime of sync tokens and tombstones, e.g. 30d, 12h, 90m (default 30d)
  --keep-versions DURATION
                         how long past versions and deleted files are kept, thinned to every version
                         for an hour, one an hour for a day, one a day after (default: the token ttl)
  --gc-interval DURATION how often unreferenced blocks are collected; 0 never (default 6h);
                         'ferry server gc --url URL --data DIR' runs it now
  --gc-grace DURATION    blocks uploaded or reported present this recently are kept (default 1h)
  --workers N            task worker pool size (default ${SERVER_DEFAULTS.workers})
  --max-body-bytes N     largest batch body (default ${SERVER_DEFAULTS.maxBodyBytes})
  --max-connections N    open connections in all (default ${SERVER_DEFAULTS.maxConnections})
  --max-connections-per-client N
                         open connections from one address (default ${SERVER_DEFAULTS.maxConnectionsPerClient});
                         behind a proxy every client has the proxy's address: raise it
  --tls-cert FILE        serve HTTPS with this certificate (PEM, the chain after it); needs --tls-key
  --tls-key FILE         the certificate's private key (PEM). Without both, plain HTTP: keep it
                         on 127.0.0.1 or behind a reverse proxy that adds TLS (docs/sync-api.md)
  --log-level LEVEL      error | warn | info | debug (default info), written to DIR/logs/server.log
  --log-format FORMAT    text | json (one JSON object a line, for log collectors; default text)
  --shutdown-grace DURATION
                         on SIGTERM, how long requests in flight and running tasks get to finish
                         before the rest is handed back to other processes (default 5s)
  --verbose              also log to the console
  -h, --help             show this help

Accounts (see \`ferry server pair --help\`): ferry server user add NAME | user list |
user remove NAME [--folders-to OTHER] | pair --user NAME | devices [--user NAME] [--json] | revoke DEVICE |
share FOLDER --with NAME | unshare FOLDER --from NAME | folders [--user NAME] | folder remove FOLDER |
lost-blocks, each with
--data DIR (or --db postgres://… for servers on PostgreSQL).
`;

export type ParsedServerArgs =
  | { help: true }
  | { help: false; options: ServerOptions; logLevel: LogLevel; logFormat: 'text' | 'json'; shutdownGraceMs: number; verbose: boolean; warnings: string[] };

/** What SIGTERM gives requests in flight and running tasks before handing the rest back. */
export const SHUTDOWN_GRACE_MS = 5000;

/** The environment variable `ferry server` reads its token from. */
export const SERVER_TOKEN_ENV = 'FERRY_SERVER_TOKEN';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30d`, `12h`, `90m`, `45s`, `500ms` or a plain number of milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw usageError(`Invalid duration '${text}' (use e.g. 30d, 12h, 90m, 45s or milliseconds)`);
  return Math.round(Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1));
}

function integer(name: string, text: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw usageError(`--${name} must be an integer between ${min} and ${max}`);
  return n;
}

function usageError(message: string): FerryError {
  return new FerryError('invalid_request', message, { details: { usage: true } });
}

/** The PEM files of `--tls-cert` and `--tls-key`, read now so a wrong path is a usage error, not a failed start. */
function readTlsFiles(certFile: string | undefined, keyFile: string | undefined): { cert: string; key: string } | undefined {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) throw usageError('--tls-cert and --tls-key go together');
  const read = (file: string, flag: string, marker: RegExp): string => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw usageError(`${flag}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    if (!marker.test(text)) throw usageError(`${flag}: ${file} holds no PEM ${flag === '--tls-cert' ? 'certificate' : 'private key'}`);
    return text;
  };
  return { cert: read(certFile, '--tls-cert', /-----BEGIN CERTIFICATE-----/), key: read(keyFile, '--tls-key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/) };
}

export function parseServerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedServerArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        data: { type: 'string' },
        db: { type: 'string' },
        blocks: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        'sync-budget-ms': { type: 'string' },
        'token-ttl': { type: 'string' },
        workers: { type: 'string' },
        'keep-versions': { type: 'string' },
        'gc-interval': { type: 'string' },
        'gc-grace': { type: 'string' },
        'max-body-bytes': { type: 'string' },
        'max-connections': { type: 'string' },
        'max-connections-per-client': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        'shutdown-grace': { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw usageError((error as Error).message);
  }
  if (values.help) return { help: true };
  if (!values.data) throw usageError('--data DIR is required');
  const { token, warnings } = resolveToken({
    flag: values.token,
    file: values['token-file'],
    env: { name: SERVER_TOKEN_ENV, value: env[SERVER_TOKEN_ENV] },
    command: 'ferry server',
    whenMissing: 'write a long random token into it first, e.g. `(umask 077; openssl rand -hex 32 > FILE)`, or leave --token-file out and one is generated in DIR/token',
  });
  if (token !== undefined && !/^[\x21-\x7e]{8,512}$/.test(token)) {
    throw usageError('the token must be 8-512 printable characters without spaces');
  }
  const level = values['log-level'] ?? 'info';
  if (!['error', 'warn', 'info', 'debug'].includes(level)) throw usageError('--log-level must be error, warn, info or debug');
  const logFormat = values['log-format'] ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') throw usageError('--log-format must be text or json');
  const shutdownGraceMs = values['shutdown-grace'] === undefined ? SHUTDOWN_GRACE_MS : parseDuration(values['shutdown-grace']);
  const options: ServerOptions = {
    dataDir: values.data,
    port: integer('port', values.port, 0, 65535) ?? SERVER_DEFAULTS.port,
    host: values.host ?? SERVER_DEFAULTS.host,
    syncBudgetMs: integer('sync-budget-ms', values['sync-budget-ms'], 1) ?? SERVER_DEFAULTS.syncBudgetMs,
    tokenTtlMs: values['token-ttl'] === undefined ? SERVER_DEFAULTS.tokenTtlMs : parseDuration(values['token-ttl']),
    workers: integer('workers', values.workers, 1, 256) ?? SERVER_DEFAULTS.workers,
    maxBodyBytes: integer('max-body-bytes', values['max-body-bytes'], 1024) ?? SERVER_DEFAULTS.maxBodyBytes,
    maxConnections: integer('max-connections', values['max-connections'], 1) ?? SERVER_DEFAULTS.maxConnections,
    maxConnectionsPerClient: integer('max-connections-per-client', values['max-connections-per-client'], 1) ?? SERVER_DEFAULTS.maxConnectionsPerClient,
  };
  if (token !== undefined) options.token = token;
  const tls = readTlsFiles(values['tls-cert'], values['tls-key']);
  if (tls) options.tls = tls;
  Object.assign(options, parseStorageFlags(values.db, values.blocks));
  if (values['keep-versions'] !== undefined) options.keepVersionsMs = parseDuration(values['keep-versions']);
  if (values['gc-interval'] !== undefined) options.gcIntervalMs = parseDuration(values['gc-interval']);
  if (values['gc-grace'] !== undefined) options.gcGraceMs = parseDuration(values['gc-grace']);
  if (options.keepVersionsMs !== undefined && options.keepVersionsMs < 1000) throw usageError('--keep-versions must be at least 1s');
  if (options.tokenTtlMs !== undefined && options.tokenTtlMs < 1000) throw usageError('--token-ttl must be at least 1s');
  return { help: false, options, logLevel: level as LogLevel, logFormat, shutdownGraceMs, verbose: values.verbose ?? false, warnings };
}
