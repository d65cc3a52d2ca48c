import { checkPostgresUrl } from './postgres';
import { parseS3Url } from './s3-blocks';
import type { StorageOptions } from './open';

/** `--db` and `--blocks`, checked before anything starts: a bad URL is `invalid_storage_url`, exit code 2. */
export function parseStorageFlags(db: string | undefined, blocks: string | undefined): StorageOptions {
  const out: StorageOptions = {};
  if (db !== undefined) {
    checkPostgresUrl(db);
    out.dbUrl = db;
  }
  if (blocks !== undefined) {
    parseS3Url(blocks);
    out.blocksUrl = blocks;
  }
  return out;
}
