import { createHash, randomUUID } from 'node:crypto';
import { SyncApiClient } from '../../../main/remote';
import type { ChangeItem } from '../../../protocol';

/**
 * Another device: writes and deletes files on the server with the real Sync API client
 * (upload the block, then commit a batch), and reads the folder's current state.
 */
export class RemoteWriter {
  private readonly client: SyncApiClient;

  constructor(options: { baseUrl: string; token: string }) {
    this.client = new SyncApiClient({ baseUrl: options.baseUrl, token: options.token, deviceId: 'desktop-2', runName: 'e2e-writer' });
  }

  /** The folder's live files by path (a full listing of the changes feed). */
  async files(folderId: string): Promise<Map<string, ChangeItem>> {
    const live = new Map<string, ChangeItem>();
    let page = await this.client.changesPage(folderId);
    for (;;) {
      for (const item of page.items) {
        if (item.deleted) live.delete(item.path);
        else live.set(item.path, item);
      }
      const next = page._links.next?.href;
      if (!next) return live;
      page = await this.client.changesPage(folderId, { next });
    }
  }

  /** Uploads `content` as `path` (a new file or a new version of the current one). */
  async put(folderId: string, path: string, content: string | Buffer): Promise<void> {
    const bytes = Buffer.from(content);
    const hash = createHash('sha256').update(bytes).digest('hex');
    if ((await this.client.missingBlocks([hash])).includes(hash)) await this.client.putBlock(hash, bytes);
    const current = (await this.files(folderId)).get(path);
    await this.commit(folderId, [
      { key: 'put', action: 'upsert', path, size: bytes.length, mtime: Date.now(), blocks: bytes.length ? [hash] : [], baseRevision: current?.revision ?? null },
    ]);
  }

  /** Deletes these files on the server, at their current revisions. */
  async remove(folderId: string, paths: readonly string[]): Promise<void> {
    const current = await this.files(folderId);
    await this.commit(
      folderId,
      paths.map((path, i) => {
        const item = current.get(path);
        if (!item) throw new Error(`${path} is not on the server`);
        return { key: `del-${i}`, action: 'delete' as const, path, baseRevision: item.revision };
      }),
    );
  }

  close(): void {
    this.client.close();
  }

  private async commit(folderId: string, operations: Parameters<SyncApiClient['submitBatch']>[1]): Promise<void> {
    const reply = await this.client.submitBatch(folderId, operations, { trackingId: randomUUID() });
    if (!('results' in reply)) throw new Error(`batch went async (${reply.status})`);
    const failed = Object.entries(reply.results).filter(([, result]) => !result.ok);
    if (failed.length) throw new Error(`batch operations failed: ${JSON.stringify(failed)}`);
  }
}
