import { BLOCK_SIZE } from '../../../protocol';

export interface PusherOptions {
  /** Parallel uploads and parallel batch commits. */
  concurrency: number;
  /** Upload bytes in flight at most (whatever the concurrency): large blocks are bandwidth-bound. */
  uploadWindowBytes: number;
  /** Retries of a retryable error before the item is failed (so an item gets retryLimit + 1 tries). */
  retryLimit: number;
  /** Upload limit in bytes/s; 0 = none. */
  bandwidthLimit: number;
  /** Batches with at least this many operations go async from the start. */
  asyncThreshold: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  batchMaxOps: number;
  batchMaxBytes: number;
  lingerMs: number;
  /** Items claimed from the queue per step, and held at most at once. */
  claimChunk: number;
  maxClaimed: number;
  pollMinMs: number;
  pollMaxMs: number;
  offlineProbeBaseMs: number;
  offlineProbeCapMs: number;
  /** A conflicting item waits this long for the puller to resolve its path before trying again. */
  conflictRecheckMs: number;
  /** Looks for due retries this often even when nothing kicks the pusher. */
  idlePollMs: number;
  /** First part of X-Ferry-Run. */
  runName: string;
}

export const DEFAULT_PUSHER_OPTIONS: PusherOptions = {
  concurrency: 4,
  uploadWindowBytes: 4 * BLOCK_SIZE,
  retryLimit: 3,
  bandwidthLimit: 0,
  asyncThreshold: 1000,
  backoffBaseMs: 1000,
  backoffCapMs: 5 * 60 * 1000,
  batchMaxOps: 500,
  batchMaxBytes: 256 * 1024 * 1024,
  lingerMs: 100,
  claimChunk: 250,
  maxClaimed: 2000,
  pollMinMs: 100,
  pollMaxMs: 5000,
  offlineProbeBaseMs: 500,
  offlineProbeCapMs: 30_000,
  conflictRecheckMs: 60_000,
  idlePollMs: 5000,
  runName: 'push',
};

/** New values of these may fix what failed (a higher limit, a faster link): failed items run again. */
export const SETTINGS_THAT_RETRY: ReadonlyArray<keyof PusherOptions> = ['concurrency', 'retryLimit', 'bandwidthLimit', 'asyncThreshold'];
