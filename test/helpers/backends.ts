/**
 * Which storage the test servers use: SQLite + the data directory (the default), or, in the
 * vitest project `postgres` (vitest.config.ts), PostgreSQL + an S3-compatible bucket from the
 * run's globalSetup (test/helpers/backends-setup.ts). Each server gets a database and a bucket
 * of its own, dropped when it closes.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { inject } from 'vitest';
import type { StorageOptions } from '../../server/storage/open';

export type Backend = 'sqlite' | 'postgres';

export const TEST_BACKEND: Backend = process.env.FERRY_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

export interface RemoteStorage {
  options: Required<StorageOptions>;
  /** The database made for this server. */
  dbName: string;
  /** A block's object, read straight from the bucket (the server's layout: blocks/ab/<hash>). */
  readObject(hash: string): Promise<Buffer | null>;
  removeObject(hash: string): Promise<void>;
  /** Puts these bytes as a block's object, whatever its hash says (a damaged object). */
  writeObject(hash: string, data: Buffer): Promise<void>;
  /** Every block object in the bucket: its hash, size and write time (LastModified, what GC's grace period compares). */
  listObjects(): Promise<Array<{ hash: string; size: number; writtenAt: number }>>;
  drop(): Promise<void>;
}

/** s3rver checks signatures against its fixed key; a given FERRY_TEST_S3_URL uses the environment's. */
export function s3Credentials(): void {
  if (process.env.FERRY_TEST_S3_URL) return;
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
}

export function s3TestClient(endpoint = inject('ferryS3Endpoint')): S3Client {
  s3Credentials();
  return new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
}

async function admin<T>(pgUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A new empty database and bucket on the run's PostgreSQL and S3 server (outside vitest, e.g.
 * in the chaos harness, name them: `at`).
 */
export async function freshRemoteStorage(at?: { pgUrl: string; s3Endpoint: string }): Promise<RemoteStorage> {
  const pgUrl = at?.pgUrl ?? inject('ferryPgUrl');
  const endpoint = at?.s3Endpoint ?? inject('ferryS3Endpoint');
  const id = randomBytes(6).toString('hex');
  const dbName = `ferry_t_${id}`;
  const bucket = `ferry-t-${id}`;
  await admin(pgUrl, (c) => c.query(`CREATE DATABASE ${dbName}`));
  const s3 = s3TestClient(endpoint);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const dbUrl = new URL(pgUrl);
  dbUrl.pathname = `/${dbName}`;
  return {
    options: { dbUrl: dbUrl.toString(), blocksUrl: `s3://${bucket}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1` },
    dbName,
    async readObject(hash) {
      try {
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `blocks/${hash.slice(0, 2)}/${hash}` }));
        return Buffer.from(await got.Body!.transformToByteArray());
      } catch (error) {
        if ((error as { name?: string }).name === 'NoSuchKey') return null;
        throw error;
      }
    },
    async removeObject(hash) {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `blocks/${hash.slice(0, 2)}/${hash}` }));
    },
    async writeObject(hash, data) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `blocks/${hash.slice(0, 2)}/${hash}`, Body: data, ContentLength: data.length }));
    },
    async listObjects() {
      const out: Array<{ hash: string; size: number; writtenAt: number }> = [];
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'blocks/', ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of page.Contents ?? []) out.push({ hash: (o.Key as string).slice((o.Key as string).lastIndexOf('/') + 1), size: o.Size ?? 0, writtenAt: o.LastModified!.getTime() });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
    async drop() {
      await admin(pgUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
      for (;;) {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
        const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key as string }));
        if (keys.length === 0) break;
        await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      }
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      s3.destroy();
    },
  };
}
