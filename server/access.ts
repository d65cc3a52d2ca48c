import { FerryError } from '../protocol';
import type { Accounts } from './accounts';
import { deviceRevoked, type Principal } from './auth';

/**
 * What a principal may reach (docs/sync-api.md, "Accounts and devices"). The server token
 * reaches everything, as before accounts existed; a device reaches its user's folders, and
 * the blocks its user uploaded or a folder it reaches refers to. Whatever it may not reach
 * looks absent (404, or missing), never forbidden, so names and contents do not leak.
 */
export class Access {
  constructor(private readonly accounts: Accounts) {}

  async reaches(principal: Principal, folderId: string): Promise<boolean> {
    if (principal.kind === 'server') return true;
    return principal.kind === 'device' && (await this.accounts.reachable(principal.userId, folderId));
  }

  async visible<T extends { id: string }>(principal: Principal, folders: T[]): Promise<T[]> {
    if (principal.kind === 'server') return folders;
    if (principal.kind !== 'device') return [];
    const reachable = await this.accounts.reachableFolders(principal.userId);
    return folders.filter((f) => reachable.has(f.id));
  }

  /** Of `hashes`, the ones the principal may read (or know to exist). */
  async readable(principal: Principal, hashes: readonly string[]): Promise<ReadonlySet<string>> {
    if (principal.kind === 'server') return new Set(hashes);
    if (principal.kind !== 'device') return new Set();
    return this.accounts.readableBlocks(principal.userId, hashes);
  }

  /**
   * After a long wait (a long poll), before it answers: a device revoked meanwhile is refused as
   * its next request would be, and a folder no longer shared looks absent. The wait was checked
   * when it began; without this, a revoked device's open poll still learned that its folders
   * changed (docs/sync-api.md, "Accounts and devices").
   */
  async stillReaches(principal: Principal, folderId: string): Promise<void> {
    if (principal.kind !== 'device') return;
    if (await this.accounts.revoked(principal.deviceId)) throw deviceRevoked();
    if (!(await this.accounts.reachable(principal.userId, folderId))) throw new FerryError('not_found', `Folder '${folderId}' not found`, { status: 404 });
  }

  /** A folder this request created belongs to the device's user. */
  async created(principal: Principal, folderId: string): Promise<void> {
    if (principal.kind === 'device') await this.accounts.claimFolder(folderId, principal.userId);
  }

  /**
   * Blocks a batch body refers to that the principal may not read. Committing a file made of
   * them would make them readable through the folder, so content could be fetched by hash
   * alone; the batch is refused instead. A client that asked `blocks/missing` and uploaded
   * what it listed never meets this.
   */
  async unreadableInBatch(principal: Principal, body: unknown): Promise<string[]> {
    if (principal.kind === 'server') return [];
    const operations = (body as { operations?: unknown } | undefined)?.operations;
    if (!Array.isArray(operations)) return [];
    const hashes = operations.flatMap((op: unknown) => {
      const blocks = (op as { blocks?: unknown } | null)?.blocks;
      return Array.isArray(blocks) ? blocks.filter((h): h is string => typeof h === 'string') : [];
    });
    if (hashes.length === 0) return [];
    const readable = await this.readable(principal, hashes);
    return [...new Set(hashes)].filter((h) => !readable.has(h));
  }

  async uploaded(principal: Principal, hashes: readonly string[]): Promise<void> {
    if (principal.kind === 'device' && hashes.length > 0) await this.accounts.recordUploads(principal.userId, hashes);
  }
}
