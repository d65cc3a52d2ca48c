import pg from 'pg';
import type { Logger } from '../../main/logging';
import type { PostgresDb } from './postgres';

const CHANNEL = 'ferry_changes';
/** A process shutting down handed tasks back (server/task-leases.ts): take them over now. */
const TASKS_CHANNEL = 'ferry_tasks';
const RECONNECT_MS = 500;

export interface FolderWakeups {
  /** Tells every server process (this one too) that the folder has a new commit. */
  publish(folderId: string): void;
  /** Tells every other process that tasks were handed back. */
  publishHandedBack(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Long-poll wake-ups across server processes (docs/architecture.md, "Server storage"): a
 * commit NOTIFYs its folder id, and every process LISTENing re-reads its waiting polls of that
 * folder. A waiter subscribes before it reads (server/changes.ts), so no commit falls between;
 * after the listening connection drops, every waiter re-reads, since notifications sent while
 * it was away are gone.
 */
export async function listenForCommits(
  db: PostgresDb,
  onFolder: (folderId: string) => void,
  onReconnect: () => void,
  log: Logger,
  onHandedBack: () => void = () => undefined,
): Promise<FolderWakeups> {
  let client: pg.Client | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;
  // One warning when the connection goes, one line when it is back: not a warning every attempt
  // while PostgreSQL is down (a restart of a few seconds wrote dozens).
  let downSince: number | null = null;

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: db.url });
    c.on('notification', (message) => {
      if (message.channel === TASKS_CHANNEL) onHandedBack();
      else if (message.payload) onFolder(message.payload);
    });
    const lost = (error?: unknown): void => {
      if (client !== c) return;
      client = null;
      c.end().catch(() => undefined);
      if (closed) return;
      if (downSince === null) {
        downSince = Date.now();
        log.warn('change notifications lost: reconnecting', { error });
      } else {
        log.debug('change notifications: reconnect failed, trying again', { error });
      }
      retry = setTimeout(() => {
        retry = null;
        connect().then(() => {
          if (downSince !== null) log.info('change notifications back', { downMs: Date.now() - downSince });
          downSince = null;
          onReconnect();
        }, lost);
      }, RECONNECT_MS);
      retry.unref();
    };
    c.on('error', lost);
    c.on('end', () => lost());
    client = c;
    await c.connect();
    await c.query(`LISTEN ${CHANNEL}`);
    await c.query(`LISTEN ${TASKS_CHANNEL}`);
  };
  await connect();

  return {
    publish(folderId) {
      db.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, folderId]).catch((error: unknown) => log.warn('could not notify other processes of a commit', { error }));
    },
    async publishHandedBack() {
      await db.pool.query('SELECT pg_notify($1, $2)', [TASKS_CHANNEL, '']).catch((error: unknown) => log.warn('could not tell other processes of tasks handed back', { error }));
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}
