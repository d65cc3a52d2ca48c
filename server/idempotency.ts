import { createHash } from 'node:crypto';
import { FerryError } from '../protocol';
import type { JsonReply } from './http';
import type { Db } from './storage/db';

/** A digest of what a request asks for, to tell a true repeat from a reused tracking id. */
export function fingerprint(...parts: string[]): string {
  const h = createHash('sha256');
  for (const part of parts) h.update(part).update('\u0000');
  return h.digest('hex');
}

export function trackingIdReused(): FerryError {
  return new FerryError('tracking_id_reused', 'X-Tracking-Id was already used for a different request', { status: 422 });
}

/**
 * First answers to mutating requests, keyed by X-Tracking-Id: a repeat gets the stored
 * answer, so a client that lost the reply can safely send the request again.
 */
export class IdempotencyStore {
  // Prepared once: preparing a statement costs more than running it.
  private readonly selectOne;
  private readonly insertOne;
  private readonly deleteOld;

  constructor(
    db: Db,
    private readonly clock: () => number,
  ) {
    this.selectOne = db.prepare<[string], { fingerprint: string; status: number; body: string }>('SELECT fingerprint, status, body FROM idempotency WHERE tracking_id = ?');
    this.insertOne = db.prepare<[string, string, number, string, number]>(
      'INSERT OR IGNORE INTO idempotency (tracking_id, fingerprint, status, body, created_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.deleteOld = db.prepare<[number]>('DELETE FROM idempotency WHERE created_at < ?');
  }

  lookup(trackingId: string, fp: string): JsonReply | undefined {
    const row = this.selectOne.get(trackingId);
    if (!row) return undefined;
    if (row.fingerprint !== fp) throw trackingIdReused();
    return { status: row.status, body: JSON.parse(row.body) as unknown };
  }

  remember(trackingId: string, fp: string, reply: JsonReply): void {
    this.insertOne.run(trackingId, fp, reply.status, JSON.stringify(reply.body), this.clock());
  }

  prune(cutoff: number): number {
    return this.deleteOld.run(cutoff).changes;
  }
}
