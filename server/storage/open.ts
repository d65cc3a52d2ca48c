import { LocalBlockStore, type BlockStore } from './blocks';
import { openSqliteMetadata } from './db';
import type { SqlDb } from './sql';

/** Where the server keeps its metadata and blocks (docs/architecture.md, "Server storage"). */
export interface StorageOptions {
  /** `postgres://…`: metadata in PostgreSQL instead of `<dataDir>/server.db`. */
  dbUrl?: string;
  /** `s3://BUCKET?endpoint=…&region=…`: blocks in an S3-compatible bucket instead of `<dataDir>/blocks`. */
  blocksUrl?: string;
}

export interface Storage {
  db: SqlDb;
  blocks: BlockStore;
}

/** Opens (and migrates) the metadata database, then the block store. */
export async function openStorage(dataDir: string, options: StorageOptions): Promise<Storage> {
  const db = options.dbUrl ? await openPostgres(options.dbUrl) : openSqliteMetadata(dataDir);
  try {
    const blocks = options.blocksUrl ? await openS3(options.blocksUrl) : new LocalBlockStore(dataDir, db);
    await blocks.init();
    return { db, blocks };
  } catch (error) {
    await db.close();
    throw error;
  }
}

async function openPostgres(url: string): Promise<SqlDb> {
  const { openPostgresMetadata } = await import('./postgres');
  return openPostgresMetadata(url);
}

async function openS3(url: string): Promise<BlockStore> {
  const { S3BlockStore, parseS3Url } = await import('./s3-blocks');
  return new S3BlockStore(parseS3Url(url));
}
