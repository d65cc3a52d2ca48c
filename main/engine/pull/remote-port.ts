import type { ChangesPage } from '../../../protocol/changes';

/**
 * The narrow slice of the Sync API client the puller needs. The real client in main/remote
 * fits it structurally; tests and the hostile-server fake can provide it too.
 */
export interface ChangesQuery {
  syncToken?: string;
  cursor?: string;
  limit?: number;
}

export interface PullRemote {
  /** One page of `GET /v1/folders/{id}/changes`; a 410 rejects with code sync_token_expired. */
  changesPage(folderId: string, query: ChangesQuery, options?: { signal?: AbortSignal }): Promise<ChangesPage>;
  /** Long poll: true as soon as the token is stale, false when the timeout passed. */
  waitForChanges(folderId: string, syncToken: string, timeoutSec: number, options?: { signal?: AbortSignal }): Promise<boolean>;
  /** The raw bytes of a block; the caller verifies the hash. */
  getBlock(hash: string, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
  /**
   * Many blocks in one request (`POST /v1/blocks/fetch`): every requested hash maps to its
   * bytes, or null when the server does not hold it. Optional: without it, one GET per block.
   */
  fetchBlocks?(hashes: readonly string[], options?: { signal?: AbortSignal }): Promise<Map<string, Uint8Array | null>>;
}
