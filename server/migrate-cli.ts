import { parseArgs } from 'node:util';
import { isFerryError } from '../protocol';
import { PG_MIGRATIONS, migratePostgres, newPool, redactUrl } from './storage/postgres';
import { parseS3Url } from './storage/urls';

export const MIGRATE_USAGE = `Usage: ferry server migrate [--db postgres://…] [--blocks s3://BUCKET?endpoint=URL&region=R]

Prepares the storage of servers on PostgreSQL and S3, then exits:
  --db      brings the metadata database to this server's schema (${PG_MIGRATIONS.length} migrations)
  --blocks  makes the bucket unless it exists (credentials from AWS_ACCESS_KEY_ID /
            AWS_SECRET_ACCESS_KEY or the usual AWS sources)
Servers started with --db migrate on their own too; this runs it once, before a rollout.
`;

type Io = { out: (t: string) => void; err: (t: string) => void };
const STDIO: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** `ferry server migrate`: 0 done, 1 failed, 2 usage error. */
export async function runMigrate(argv: string[], io: Io = STDIO): Promise<number> {
  let db: string | undefined;
  let blocks: string | undefined;
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: { db: { type: 'string' }, blocks: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.out(MIGRATE_USAGE);
      return 0;
    }
    ({ db, blocks } = values);
    if (!db && !blocks) throw new Error('give --db postgres://… or --blocks s3://… (or both)');
    if (blocks) parseS3Url(blocks);
  } catch (error) {
    io.err(`ferry server migrate: ${(error as Error).message}\n\n${MIGRATE_USAGE}`);
    return 2;
  }
  const failed = (error: unknown): string => `ferry server migrate: ${isFerryError(error) ? `${error.message} (${error.code})` : (error as Error).message}\n`;
  if (db) {
    let pool;
    try {
      pool = newPool(db, 1);
    } catch (error) {
      io.err(failed(error));
      return 2;
    }
    try {
      const { from, to } = await migratePostgres(pool);
      io.out(from === to ? `${redactUrl(db)} is at schema version ${to} already: nothing to do\n` : `Migrated ${redactUrl(db)} from schema version ${from} to ${to}\n`);
    } catch (error) {
      io.err(failed(error));
      return 1;
    } finally {
      await pool.end();
    }
  }
  if (blocks) {
    const { S3BlockStore } = await import('./storage/s3-blocks');
    const store = new S3BlockStore(parseS3Url(blocks));
    try {
      const made = await store.ensureBucket();
      io.out(`${made ? 'Created bucket' : 'Bucket'} '${store.location.bucket}'${made ? '' : ' exists'}: blocks go under '${store.location.prefix}'\n`);
    } catch (error) {
      io.err(failed(error));
      return 1;
    } finally {
      store.close();
    }
  }
  return 0;
}
