import { FerryError } from '../../protocol';
import type { StorageOptions } from './open';

// Pure checks of --db and --blocks: parsing the flags loads neither pg nor the AWS SDK.

export function invalidStorageUrl(message: string): FerryError {
  return new FerryError('invalid_storage_url', `${message} (invalid_storage_url)`, { details: { usage: true } });
}


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

export function checkPostgresUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidStorageUrl(`--db must be a postgres:// URL (got '${redactUrl(url)}')`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') throw invalidStorageUrl(`--db must be a postgres:// URL (got '${redactUrl(url)}')`);
  if (!parsed.hostname) throw invalidStorageUrl('--db names no host');
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

export interface S3Location {
  bucket: string;
  /** Key prefix of every block (`blocks/` unless the URL's path names another). */
  prefix: string;
  endpoint?: string;
  region: string;
}

/**
 * `s3://BUCKET[/PREFIX]?endpoint=https://…&region=…`. Credentials come from the usual AWS
 * environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE…).
 */
export function parseS3Url(text: string): S3Location {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidStorageUrl(`--blocks must be an s3://BUCKET?endpoint=…&region=… URL (got '${text}')`);
  }
  if (url.protocol !== 's3:') throw invalidStorageUrl(`--blocks must be an s3:// URL (got '${text}')`);
  const bucket = url.hostname;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw invalidStorageUrl(`--blocks names no valid bucket (got '${bucket}')`);
  const endpoint = url.searchParams.get('endpoint') ?? undefined;
  if (endpoint !== undefined) {
    try {
      const e = new URL(endpoint);
      if (e.protocol !== 'http:' && e.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw invalidStorageUrl(`--blocks endpoint must be an http(s) URL (got '${endpoint}')`);
    }
  }
  const region = url.searchParams.get('region') ?? process.env.AWS_REGION ?? 'us-east-1';
  const path = url.pathname.replace(/^\/+|\/+$/g, '');
  return { bucket, prefix: path ? `${path}/` : 'blocks/', region, ...(endpoint ? { endpoint } : {}) };
}

