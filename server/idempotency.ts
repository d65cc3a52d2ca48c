import { createHash } from 'node:crypto';
import { FerryError } from '../protocol';
import type { Principal } from './auth';
import type { JsonReply, RequestFingerprint } from './http';
import type { SqlDb } from './storage/sql';

/** A digest of what a request asks for, to tell a true repeat from a reused tracking id. */
export function fingerprint(...parts: string[]): string {
  const h = createHash('sha256');
  for (const part of parts) h.update(part).update('\u0000');
  return h.digest('hex');
}

/**
 * JSON with object keys sorted, so two spellings of one body (whitespace, key order, `1.0`
 * vs `1`) give one fingerprint. Builds a string, never an object: a `__proto__` key stays data.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The fingerprint of an idempotent request: the endpoint, its decoded path parameters (so
 * `t%34` and `t4` are one folder), the headers that change its meaning and the parsed body.
 * The query is left out: a batch may come back in the other mode and is still the same batch.
 */
export function requestFingerprint(input: { method: string; template: string; params: Record<string, string>; headers: string[]; body: unknown; legacy?: string }): RequestFingerprint {
  const value = fingerprint(input.method, input.template, canonicalJson(input.params), ...input.headers, canonicalJson(input.body));
  return { value, matches: (stored) => stored === value || stored === input.legacy };
}

/**
 * The key an idempotent request's record is kept under. A paired device's tracking ids live
 * in its own space, so one user's device can neither replay nor block another's answer by
 * sending the same X-Tracking-Id; the server token's stay bare, as recorded before accounts.
 * `/` never occurs in a tracking id, so no bare id can pose as a scoped one.
 */
export function idempotencyKey(principal: Principal, trackingId: string): string {
  return principal.kind === 'device' ? `device/${principal.deviceId}/${trackingId}` : trackingId;
}

export function trackingIdReused(): FerryError {
  return new FerryError('tracking_id_reused', 'X-Tracking-Id was already used for a different request', { status: 422 });
}

/** `status` of a record whose answer lives in a task (a batch): the tracking id is taken, nothing is replayed from here. */
const TASK_RECORD = 0;

/**
 * Every X-Tracking-Id an idempotent request used, with its fingerprint: one store for all
 * kinds, so reusing an id for a different request of any kind is `422 tracking_id_reused`.
 * Folder PUTs keep their first answer here and get it back on a repeat; batches are replayed
 * from their task.
 */
export class IdempotencyStore {
  constructor(
    private readonly db: SqlDb,
    private readonly clock: () => number,
  ) {}

  private row(trackingId: string): Promise<{ fingerprint: string; status: number; body: string } | undefined> {
    return this.db.get('SELECT fingerprint, status, body FROM idempotency WHERE tracking_id = ?', [trackingId]);
  }

  private async insert(trackingId: string, fp: RequestFingerprint, status: number, body: string): Promise<void> {
    await this.db.run('INSERT INTO idempotency (tracking_id, fingerprint, status, body, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING', [
      trackingId,
      fp.value,
      status,
      body,
      this.clock(),
    ]);
  }

  /** The first answer to replay (undefined when there is none to replay); 422 when the id was used for something else. */
  async lookup(trackingId: string, fp: RequestFingerprint): Promise<JsonReply | undefined> {
    const row = await this.row(trackingId);
    if (!row) return undefined;
    if (!fp.matches(row.fingerprint)) throw trackingIdReused();
    if (row.status === TASK_RECORD) return undefined;
    return { status: row.status, body: JSON.parse(row.body) as unknown };
  }

  async remember(trackingId: string, fp: RequestFingerprint, reply: JsonReply): Promise<void> {
    await this.insert(trackingId, fp, reply.status, JSON.stringify(reply.body));
  }

  /** Takes the tracking id for a task-backed request; 422 when another request holds it. */
  async claimForTask(trackingId: string, fp: RequestFingerprint): Promise<void> {
    await this.insert(trackingId, fp, TASK_RECORD, 'null');
    const row = await this.row(trackingId);
    if (row && !fp.matches(row.fingerprint)) throw trackingIdReused();
  }

  prune(cutoff: number): Promise<number> {
    return this.db.run('DELETE FROM idempotency WHERE created_at < ?', [cutoff]);
  }
}
