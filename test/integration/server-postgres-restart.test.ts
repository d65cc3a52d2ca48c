/**
 * The server's PostgreSQL connections across a PostgreSQL restart (docs/sync-api.md, "Storage
 * backends and several processes"). Chaos seeds 6 and 8 (`npm run chaos -- --backend postgres
 * --servers 2`): PostgreSQL stopped while a transaction held a pooled connection between two
 * queries; that connection emitted 'error' with no listener and the server process ended.
 * Runs on a PostgreSQL of its own, since it stops it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../main/logging';
import { listenForCommits } from '../../server/storage/pg-wakeups';
import { openPostgresMetadata, type PostgresDb } from '../../server/storage/postgres';
import { startEmbeddedPostgres, type EmbeddedPg } from '../helpers/backends-setup';
import { waitFor } from '../helpers/wait';

let server: EmbeddedPg;
let db: PostgresDb;
const uncaught: unknown[] = [];
const onUncaught = (error: unknown) => void uncaught.push(error);

beforeAll(async () => {
  server = await startEmbeddedPostgres();
  db = await openPostgresMetadata(server.url);
  process.on('uncaughtException', onUncaught);
}, 60_000);

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  await db?.close();
  await server?.stop();
});

describe('PostgreSQL restarted under the server (chaos seeds 6 and 8, --backend postgres --servers 2)', () => {
  it('a transaction holding a connection fails, the process lives on, and the next transaction commits', async () => {
    const inTx = db.tx(async () => {
      await db.run('INSERT INTO server_secrets (name, value) VALUES (?, ?)', ['before-restart', 'x']);
      // Between two queries of the transaction: PostgreSQL goes (every connection is cut) and comes back.
      await server.restart(200);
      await db.run('INSERT INTO server_secrets (name, value) VALUES (?, ?)', ['after-restart', 'y']);
    });
    await expect(inTx).rejects.toThrow();
    expect(uncaught).toEqual([]);
    // The lost connection left the pool: new transactions get live ones.
    await db.tx(() => db.run('INSERT INTO server_secrets (name, value) VALUES (?, ?)', ['next', 'z']));
    const names = (await db.all<{ name: string }>('SELECT name FROM server_secrets ORDER BY name')).map((r) => r.name);
    expect(names).toContain('next');
    expect(names).not.toContain('before-restart');
    expect(names).not.toContain('after-restart');
  }, 60_000);

  // While PostgreSQL was down the listener tried again every 500 ms and warned every time: a
  // restart of a few seconds wrote dozens of warnings. Now one warning, then one line when back.
  it('warns once while change notifications are lost, however many reconnects fail, and says when they are back', async () => {
    const lines: Array<[level: string, message: string]> = [];
    const at = (level: string) => (message: string) => void lines.push([level, message]);
    const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
    let reconnects = 0;
    const wakeups = await listenForCommits(db, () => undefined, () => void reconnects++, log);
    try {
      await server.restart(2000);
      await waitFor(() => reconnects === 1, { timeoutMs: 30_000, message: 'notifications reconnected' });
      expect(lines.filter(([level]) => level === 'warn')).toEqual([['warn', 'change notifications lost: reconnecting']]);
      // It did try while PostgreSQL was down (each failure quiet), and said so once it was back.
      expect(lines.filter(([level]) => level === 'debug').length).toBeGreaterThan(0);
      expect(lines).toContainEqual(['info', 'change notifications back']);
    } finally {
      await wakeups.close();
    }
  }, 60_000);
});
