import { API_PREFIX } from './constants';

/** URL paths of the Sync API v1, built in one place for the server's links and the client. */
export const routes = {
  missingBlocks: () => `${API_PREFIX}/blocks/missing`,
  block: (hash: string) => `${API_PREFIX}/blocks/${hash}`,
  blocksBatch: () => `${API_PREFIX}/blocks/batch`,
  blocksFetch: () => `${API_PREFIX}/blocks/fetch`,
  folders: () => `${API_PREFIX}/folders`,
  folder: (folderId: string) => `${API_PREFIX}/folders/${encodeURIComponent(folderId)}`,
  sync: (folderId: string) => `${API_PREFIX}/folders/${encodeURIComponent(folderId)}/sync`,
  task: (taskId: string) => `${API_PREFIX}/tasks/${encodeURIComponent(taskId)}`,
  changes: (folderId: string) => `${API_PREFIX}/folders/${encodeURIComponent(folderId)}/changes`,
  changesWait: (folderId: string) => `${API_PREFIX}/folders/${encodeURIComponent(folderId)}/changes/wait`,
  devices: (folderId: string) => `${API_PREFIX}/folders/${encodeURIComponent(folderId)}/devices`,
  device: (folderId: string, deviceId: string) => `${API_PREFIX}/folders/${encodeURIComponent(folderId)}/devices/${encodeURIComponent(deviceId)}`,
} as const;

/** The sync token carried by an `upcoming-modifications` href (null when there is none). */
export function syncTokenFromHref(href: string): string | null {
  return new URL(href, 'http://ferry.invalid').searchParams.get('syncToken');
}
