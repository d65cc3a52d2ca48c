import type { QueueItem } from './ui-contract';

/**
 * What a queue row sends, in words (a new-user try read "upsert"): an upload, a delete, a new
 * folder, a folder's delete, or a move from its old name.
 */
export function queueOpWords(item: Pick<QueueItem, 'op' | 'movedFrom'>, name: (path: string) => string = (p) => p): string {
  switch (item.op) {
    case 'upsert':
      return 'upload';
    case 'delete':
      return 'delete';
    case 'mkdir':
      return 'new folder';
    case 'rmdir':
      return 'folder delete';
    case 'move':
      return item.movedFrom !== undefined ? `moved from ${name(item.movedFrom)}` : 'move';
  }
}
