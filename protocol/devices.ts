import { z } from 'zod';
import { DeviceId, IsoDate, SyncPath } from './common';
import { Sha256Hex } from './hashes';

/**
 * Device digests (docs/sync-api.md, "Devices"): after its pulls and pushes each device says
 * what it has applied of a folder and what it has not sent, and anyone syncing the folder can
 * see every device's state: up to date, or how many changes behind.
 */

/** At most this many failing paths per report; the count says how many there are in all. */
export const MAX_REPORTED_FAILURES = 100;

const ErrorCode = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be an error code');

export const DeviceFailure = z.object({
  path: SyncPath,
  /** A Sync API or agent error code (`conflict`, `local_io`, …). */
  code: ErrorCode,
});
export type DeviceFailure = z.infer<typeof DeviceFailure>;

/** `PUT /v1/folders/{folderId}/devices/{deviceId}`: the caller's own digest (deviceId = its X-Ferry-Device). */
export const DeviceReport = z.strictObject({
  /** What a person calls the device (its host name). */
  name: z.string().min(1).max(255),
  /** The client's name and version, e.g. `ferry/0.1.0`. */
  version: z.string().min(1).max(64),
  /** The sync token of the last pull it applied in full; absent before its first. */
  syncToken: z.string().min(1).max(4096).optional(),
  /** Local changes it has not pushed yet (queued, in flight or waiting to retry). */
  pending: z.int().min(0),
  /** How many paths fail for good, and the first of them with their codes. */
  failedCount: z.int().min(0),
  failures: z.array(DeviceFailure).max(MAX_REPORTED_FAILURES),
  /**
   * The folder is in error on the device and nothing syncs there (its root gone or not made yet,
   * its marker gone, another folder's marker): the error's code. Absent while it syncs.
   */
  folderError: ErrorCode.optional(),
  /** Its user paused syncing there: nothing is sent or received until they resume. Absent: not paused. */
  paused: z.boolean().optional(),
  /** Of `failedCount`, the names there that cannot be synced (most never pass the wire's path checks). Absent: 0. */
  unsyncableCount: z.int().min(1).optional(),
  /** A bulk delete there waits for its user's answer. Absent: none does. */
  massDeleteHeld: z.boolean().optional(),
  /**
   * Its agent stopped cleanly (quit): the last report of its run, its other figures as they were
   * then. Absent: it runs. Its next report (started again) goes without it.
   */
  stopped: z.boolean().optional(),
}).refine((r) => (r.unsyncableCount ?? 0) <= r.failedCount, { message: 'must not be more than failedCount', path: ['unsyncableCount'] });
export type DeviceReport = z.infer<typeof DeviceReport>;

export const DeviceState = z.object({
  device: DeviceId,
  name: z.string(),
  version: z.string(),
  lastSeen: IsoDate,
  /** Changes other devices made after the position it applied; null when it never pulled or its token is no longer valid. */
  behind: z.int().min(0).nullable(),
  upToDate: z.boolean(),
  pending: z.int().min(0),
  failedCount: z.int().min(0),
  failures: z.array(DeviceFailure),
  /** The credential its last report came with was revoked: what it reported is as it was then. Absent from servers before it: false. */
  signedOut: z.boolean().optional(),
  /** The folder is in error there, nothing syncing (the code its last report gave); absent while it syncs, and from older servers. */
  folderError: z.string().optional(),
  /** Its user paused syncing there (its last report said so); absent while it syncs, and from older servers. */
  paused: z.boolean().optional(),
  /** Of `failedCount`, the names there that cannot be synced; absent when none (a 0 is read as none), and from older servers. */
  unsyncableCount: z.int().min(0).optional(),
  /** A bulk delete there waits for its user's answer (its last report said so); absent when none does, and from older servers. */
  massDeleteHeld: z.boolean().optional(),
  /**
   * Its agent stopped cleanly at `lastSeen` (its last report said so): not running, what it reported
   * is as it was then. Absent while it runs, from a device that was killed (silent instead), and from older servers.
   */
  stopped: z.boolean().optional(),
});
export type DeviceState = z.infer<typeof DeviceState>;

/** At most this many lost blocks are named in one report reply. */
export const MAX_WANTED_BLOCKS = 100;

/**
 * The reply to a device's own report: its state as the server now sees it, and the blocks of
 * the folder whose bytes the server lost (docs/sync-api.md, "Lost blocks"): a device holding
 * any of them uploads it again. Absent when none is lost.
 */
export const DeviceReportReply = DeviceState.extend({
  wantedBlocks: z.array(Sha256Hex).max(MAX_WANTED_BLOCKS).optional(),
});
export type DeviceReportReply = z.infer<typeof DeviceReportReply>;

/** `GET /v1/folders/{folderId}/devices`: every device that reported within the retention, newest first. */
export const DevicesReply = z.object({
  devices: z.array(DeviceState),
  /**
   * The server's clock when it answered: `lastSeen` is by that clock, so a client tells how long
   * ago it was against this, not against its own clock, which may be minutes off. Absent from
   * older servers.
   */
  serverTime: IsoDate.optional(),
});
export type DevicesReply = z.infer<typeof DevicesReply>;
