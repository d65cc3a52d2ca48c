import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { BLOCK_SIZE, FerryError } from '../../protocol';
import { BlockLookups, mapLimited, type BlockStore, type SweepGuard, type SweepReport } from './blocks';
import type { S3Location } from './urls';

export { parseS3Url, type S3Location } from './urls';

const HASH = /^[0-9a-f]{64}$/;

/**
 * Blocks as objects in an S3-compatible bucket, one object per block under
 * `<prefix>ab/<sha256>`, shared by every server process. A PUT that S3 answered is durable,
 * so `persist()` has nothing to do. Path-style addressing and checksums only when required,
 * so that non-AWS servers (MinIO, Ceph, s3rver…) work.
 */
export class S3BlockStore extends BlockLookups implements BlockStore {
  readonly client: S3Client;

  constructor(readonly location: S3Location) {
    super(32);
    // The SDK's notice that its releases after January 2027 need Node 22 is for whoever
    // upgrades Ferry's dependencies, not for the operator's terminal at every start on Node 20.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client({
      region: location.region,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(location.endpoint ? { endpoint: location.endpoint } : {}),
    });
  }

  private key(hash: string): string {
    return `${this.location.prefix}${hash.slice(0, 2)}/${hash}`;
  }

  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.location.bucket }));
    } catch (error) {
      throw this.bucketError(error);
    }
  }

  /** Makes the bucket unless it is there (`ferry server migrate --blocks`): whether it made it. */
  async ensureBucket(): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.location.bucket }));
      return false;
    } catch (error) {
      if (!notFound(error)) throw this.bucketError(error);
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.location.bucket }));
    } catch (error) {
      throw new FerryError('storage_unavailable', `Bucket '${this.location.bucket}' could not be created at ${this.where()}: ${(error as Error).name}`, { cause: error });
    }
    return true;
  }

  private where(): string {
    return this.location.endpoint ?? `AWS S3 (${this.location.region})`;
  }

  /** What a failed look at the bucket means for the operator: missing, refused, or unreachable. */
  private bucketError(error: unknown): FerryError {
    const { bucket } = this.location;
    const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
    if (notFound(error)) {
      return new FerryError('storage_unavailable', `Bucket '${bucket}' does not exist at ${this.where()}: create it, or run 'ferry server migrate --blocks URL', which does`, { cause: error });
    }
    if (status === 401 || status === 403) {
      return new FerryError('storage_unavailable', `Bucket '${bucket}' at ${this.where()} refuses these credentials (${status}; AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the usual AWS sources)`, { cause: error });
    }
    return new FerryError('storage_unavailable', `Bucket '${bucket}' cannot be reached at ${this.where()}: ${(error as Error).name}`, { retryable: true, cause: error });
  }

  async probe(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.location.bucket }));
  }

  async sizeOf(hash: string): Promise<number | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.key(hash) }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (notFound(error)) return null;
      throw error;
    }
  }

  async write(hash: string, body: AsyncIterable<Uint8Array>, maxBytes = BLOCK_SIZE): Promise<{ size: number; stored: boolean }> {
    const digest = createHash('sha256');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      size += buf.length;
      if (size > maxBytes) throw new FerryError('payload_too_large', `A block holds at most ${maxBytes} bytes`, { status: 413 });
      digest.update(buf);
      chunks.push(Buffer.from(buf));
    }
    const actual = digest.digest('hex');
    if (actual !== hash) throw new FerryError('hash_mismatch', `Block content hashes to ${actual}, not ${hash}`, { status: 422, details: { hash } });
    const [stored] = await this.writeVerified([{ hash, data: Buffer.concat(chunks) }]);
    return { size, stored: stored ?? false };
  }

  async writeVerified(blocks: ReadonlyArray<{ hash: string; data: Uint8Array }>): Promise<boolean[]> {
    const first = new Map<string, number>();
    blocks.forEach(({ hash }, i) => {
      if (!first.has(hash)) first.set(hash, i);
    });
    const stored = blocks.map(() => false);
    await mapLimited([...first.entries()], 16, async ([hash, index]) => {
      const data = (blocks[index] as { data: Uint8Array }).data;
      // Held whole already. One of another size is damaged (a partial object some S3-compatible
      // servers keep when an overwrite is cut off): written again (docs/sync-api.md, "Lost blocks").
      if ((await this.sizeOf(hash)) === data.length) {
        this.touch([hash]);
        return;
      }
      await this.client.send(new PutObjectCommand({ Bucket: this.location.bucket, Key: this.key(hash), Body: data, ContentLength: data.length }));
      // Written now: GC's grace period protects it until a commit refers to it.
      this.touch([hash]);
      stored[index] = true;
    });
    return stored;
  }

  persist(): Promise<void> {
    return Promise.resolve();
  }

  async open(hash: string): Promise<{ size: number; stream: Readable } | null> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.key(hash) }));
      return { size: got.ContentLength ?? 0, stream: got.Body as Readable };
    } catch (error) {
      if (notFound(error)) return null;
      throw error;
    }
  }

  async readMany(hashes: readonly string[], maxBytes: number): Promise<Array<Buffer | null>> {
    const out: Array<Buffer | null> = [];
    let total = 0;
    // Fetched a few at a time, in order, so the byte budget stops at the same block as on disk.
    for (let i = 0; i < hashes.length; i += 8) {
      const group = hashes.slice(i, i + 8);
      const read = await Promise.all(group.map((h) => this.readOne(h)));
      for (const data of read) {
        if (data !== null && out.length > 0 && total + data.length > maxBytes) return out;
        out.push(data);
        total += data?.length ?? 0;
      }
    }
    return out;
  }

  private async readOne(hash: string): Promise<Buffer | null> {
    const got = await this.open(hash);
    if (!got) return null;
    const chunks: Buffer[] = [];
    for await (const chunk of got.stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async sweep(keep: (hash: string) => boolean, cutoff: number, report: SweepReport, _compactBelow?: number, stillHeld?: SweepGuard): Promise<void> {
    const { bucket, prefix } = this.location;
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      const dead: Array<{ Key: string; size: number }> = [];
      for (const object of page.Contents ?? []) {
        const key = object.Key ?? '';
        const hash = key.slice(key.lastIndexOf('/') + 1);
        const size = object.Size ?? 0;
        const written = object.LastModified?.getTime() ?? Number.POSITIVE_INFINITY;
        if (!HASH.test(hash) || keep(hash) || written >= cutoff) {
          report.bytesStored += size;
          continue;
        }
        dead.push({ Key: key, size });
      }
      if (dead.length > 0) {
        await stillHeld?.();
        const result = await this.client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: dead.map((d) => ({ Key: d.Key })), Quiet: true } }));
        const failed = new Set((result.Errors ?? []).map((e) => e.Key));
        for (const d of dead) {
          if (failed.has(d.Key)) report.bytesStored += d.size;
          else {
            report.blocksCollected++;
            report.bytesFreed += d.size;
          }
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  close(): void {
    this.client.destroy();
  }
}

function notFound(error: unknown): boolean {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode === 404 || error.name === 'NotFound' || error.name === 'NoSuchKey';
  return false;
}
