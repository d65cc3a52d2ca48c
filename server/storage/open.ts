import { LocalBlockStore, blocksDir, type BlockStore } from './blocks';
import { openSqliteMetadata, sqliteFile } from './db';
import type { SqlDb } from './sql';
import { parseS3Url, redactUrl } from './urls';

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

/** Where the metadata and the blocks are, in words for the operator (the password left out). */
export function describeStorage(dataDir: string, options: StorageOptions): { metadata: string; blocks: string } {
  const metadata = options.dbUrl ? `PostgreSQL ${redactUrl(options.dbUrl)}` : sqliteFile(dataDir);
  if (!options.blocksUrl) return { metadata, blocks: blocksDir(dataDir) };
  const at = parseS3Url(options.blocksUrl);
  return { metadata, blocks: `bucket '${at.bucket}'${at.endpoint ? ` at ${at.endpoint}` : ''}` };
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
