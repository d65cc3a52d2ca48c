/** Sync API v1 constants shared by the client (main/remote) and the reference server. */
export const API_PREFIX = '/v1';

/** Files are cut into blocks of at most this many bytes, each addressed by its SHA-256. */
export const BLOCK_SIZE = 4 * 1024 * 1024;

export const HEADERS = {
  authorization: 'authorization',
  device: 'x-ferry-device',
  run: 'x-ferry-run',
  trackingId: 'x-tracking-id',
  singleOperation: 'single-operation',
  retryAfter: 'retry-after',
} as const;

/** The message docs/sync-api.md fixes for a batch that hits a path another task holds. */
export const PATH_LOCKED_MESSAGE = 'Another instance is already running and blocking this synchronization path';

export const MAX_BATCH_OPERATIONS = 10_000;
export const DEFAULT_CHANGES_LIMIT = 1000;
export const MAX_CHANGES_LIMIT = 10_000;
