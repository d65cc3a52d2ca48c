/**
 * The server's PostgreSQL connections across a PostgreSQL restart (docs/sync-api.md, "Storage
 * backends and several processes"). Chaos seeds 6 and 8 (`npm run chaos -- --backend postgres
 * --servers 2`): PostgreSQL stopped while a transaction held a pooled connection between two
 * queries; that connection emitted 'error' with no listener and the server process ended.
 * Runs on a PostgreSQL of its own, since it stops it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresMetadata, type PostgresDb } from '../../server/storage/postgres';
import { startEmbeddedPostgres, type EmbeddedPg } from '../helpers/backends-setup';

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
});
