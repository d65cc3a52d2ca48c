import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { openSqliteMetadata, sqliteFile } from '../../server/storage/db';
import { makeTempDir } from '../helpers/server-harness';

const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * Another process writing the server's database: the account commands of `ferry server` write
 * it while the server runs. Its write, one statement, in autocommit, as the server's are.
 */
function otherWriter(file: string): { started: Promise<void>; done: Promise<string> } {
  const child = spawn(process.execPath, [
    '-e',
    `const db = new (require(${JSON.stringify(betterSqlite)}))(${JSON.stringify(file)}); db.pragma('busy_timeout = 10000');
     process.stdout.write('start\\n');
     db.prepare("INSERT INTO users (name, created_at) VALUES ('other', 1)").run();
     process.stdout.write('wrote\\n');`,
  ]);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const started = new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => ((out += d.toString()), out.includes('start') && resolve())));
  const done = new Promise<string>((resolve) => child.on('exit', (code) => resolve(code === 0 ? out : `exit ${code}: ${err}`)));
  return { started, done };
}

describe('the SQLite metadata database with a second writer (the account commands while the server runs)', () => {
  // Found by review: a transaction that read, then wrote after the other process committed,
  // failed at once with SQLITE_BUSY (a deferred BEGIN cannot upgrade a stale snapshot), so
  // `ferry server user remove` could end in a crash while the server took device reports.
  it('a transaction that reads, waits, then writes is not refused: the other writer waits for its commit', async () => {
    const dir = await makeTempDir('ferry-server-two-writers-');
    const db = openSqliteMetadata(dir);
    try {
      let other: ReturnType<typeof otherWriter> | undefined;
      const inside = await db.tx(async () => {
        const before = await db.all<{ name: string }>('SELECT name FROM users');
        other = otherWriter(sqliteFile(dir));
        await other.started;
        // The other process tries its write now; it must not get in before this commit. Waited on
        // with a deadline: a write that gets in says 'wrote' within it.
        const raced = await Promise.race([other.done.then(() => 'wrote first'), new Promise<string>((r) => setTimeout(() => r('held'), 1000))]);
        await db.run('INSERT INTO users (name, created_at) VALUES (?, ?)', ['mine', 2]);
        return { before, raced };
      });
      expect(inside.before).toEqual([]);
      expect(inside.raced).toBe('held');
      expect(await other!.done).toContain('wrote');
      expect((await db.all<{ name: string }>('SELECT name FROM users ORDER BY id')).map((r) => r.name)).toEqual(['mine', 'other']);
    } finally {
      await db.close();
    }
  });
});
