import path from 'node:path';
import { isFerryError } from '../../../protocol';
import { configureLogging, createLogger } from '../../logging';
import { makeDataDirPrivate } from '../../private-files';
import { SERVER_USAGE, parseServerArgs } from '../../../server/cli';
import { ACCOUNT_COMMANDS, runAccountsCommand } from '../../../server/accounts-cli';
import { startServer, type ClosedServer, type UnderWay } from '../../../server/main';
import { isLoopbackHost } from '../../remote/transport';
import { describeStorage } from '../../../server/storage/open';

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
const seconds = (ms: number): string => `${ms / 1000}s`;

/** What a stop waits for, said when the signal comes: `Ferry server stopping (SIGTERM): finishing 2 requests in flight, up to 5s`. */
export function stoppingLine(signal: string, now: UnderWay, graceMs: number): string {
  const work = [...(now.requests > 0 ? [count(now.requests, 'request')] : []), ...(now.tasks > 0 ? [count(now.tasks, 'task')] : [])].join(' and ');
  const waits = work === '' ? 'nothing in flight' : graceMs > 0 ? `finishing ${work} in flight, up to ${seconds(graceMs)}` : `${work} in flight cut off (--shutdown-grace 0)`;
  // Long polls only wait: answered now (no changes), their clients ask again elsewhere.
  const polls = now.longPolls > 0 ? `; ${count(now.longPolls, 'waiting long poll')} answered now` : '';
  return `Ferry server stopping (${signal}): ${waits}${polls}`;
}

/** What the stop left undone, said once it is done. */
export function stoppedLine(closed: ClosedServer, graceMs: number): string {
  const left = [
    ...(closed.cutOff > 0 ? [`${count(closed.cutOff, 'request')} cut off${graceMs > 0 ? ` at the ${seconds(graceMs)} limit` : ''}`] : []),
    ...(closed.handedBack > 0 ? [`${count(closed.handedBack, 'task')} handed back to the other server processes`] : []),
  ];
  return `Ferry server stopped${left.length > 0 ? ` (${left.join('; ')})` : ''}`;
}

/**
 * `ferry server`: runs the reference Sync API server until SIGINT or SIGTERM.
 * Prints the base URL on one line, then where the generated token is kept; on the signal, what
 * the stop waits for, and once stopped, what it cut off.
 */
export async function runServerCommand(argv: string[]): Promise<number> {
  // `ferry server user|pair|devices|revoke|share …` manage accounts in the data directory.
  if (argv[0] !== undefined && ACCOUNT_COMMANDS.has(argv[0])) return runAccountsCommand(argv);
  if (argv[0] === 'gc') return (await import('./server-gc')).runServerGc(argv.slice(1));
  if (argv[0] === 'migrate') return (await import('../../../server/migrate-cli')).runMigrate(argv.slice(1));
  let parsed;
  try {
    parsed = parseServerArgs(argv);
  } catch (error) {
    process.stderr.write(`ferry server: ${isFerryError(error) ? error.message : String(error)}\n\n${SERVER_USAGE}`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(SERVER_USAGE);
    return 0;
  }
  const { options } = parsed;
  for (const warning of parsed.warnings) process.stderr.write(`${warning}\n`);
  makeDataDirPrivate(path.resolve(options.dataDir));
  configureLogging({ level: parsed.logLevel, format: parsed.logFormat, file: path.join(path.resolve(options.dataDir), 'logs', 'server.log'), console: parsed.verbose });
  // A stray rejected promise is a bug to log, never a reason to drop every client.
  const log = createLogger('server');
  const onRejection = (reason: unknown): void => log.error('unhandled rejection', { error: reason });
  process.on('unhandledRejection', onRejection);
  const server = await startServer(options);
  // Listening for signals before saying it listens: a signal sent on reading that line stops it cleanly.
  const stopped = new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('unhandledRejection', onRejection);
      // Said before the wait: a stop that takes its grace period is not mistaken for a hang.
      process.stdout.write(`${stoppingLine(signal, server.underWay(), parsed.shutdownGraceMs)}\n`);
      // Requests in flight and running tasks get the grace period; the rest is handed back.
      void server.shutDown(parsed.shutdownGraceMs).then(
        (closed) => {
          process.stdout.write(`${stoppedLine(closed, parsed.shutdownGraceMs)}\n`);
          resolve(0);
        },
        (error: unknown) => {
          process.stderr.write(`ferry server: error while closing: ${String(error)}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stdout.write(`Ferry server listening on ${server.url}\n`);
  // Which store this process serves: behind a load balancer, one process started without --db
  // would be a server of its own.
  const where = describeStorage(path.resolve(options.dataDir), options);
  process.stdout.write(`Storage: metadata in ${where.metadata}; blocks in ${where.blocks}\n`);
  if (options.dbUrl && !options.blocksUrl) {
    process.stderr.write(
      `Warning: --db without --blocks keeps blocks in ${where.blocks}, which other server processes on this database cannot read: give every process the same --blocks s3://… (docs/sync-api.md, "Storage backends and several processes").\n`,
    );
  }
  if (!options.tls && !isLoopbackHost(options.host ?? '127.0.0.1')) {
    process.stderr.write('Warning: plain HTTP on an address other computers reach: tokens cross the network unencrypted. Use --tls-cert/--tls-key, or a reverse proxy with TLS (docs/sync-api.md, "Transport").\n');
  }
  if (server.tokenFile) {
    process.stdout.write(`${server.tokenCreated ? 'Generated a token, saved in' : 'Using the token saved in'} ${server.tokenFile}\n`);
  }
  return stopped;
}

