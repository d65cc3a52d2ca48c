import { z } from 'zod';
import { FolderId, IsoDate } from './common';

/** `PUT /v1/folders/{folderId}` body; the body may also be empty. Idempotent: 201 then 200. */
export const CreateFolderRequest = z.strictObject({
  label: z.string().min(1).max(255).optional(),
});
export type CreateFolderRequest = z.infer<typeof CreateFolderRequest>;

export const Folder = z.object({
  id: FolderId,
  label: z.string().nullable(),
  createdAt: IsoDate,
});
export type Folder = z.infer<typeof Folder>;

export const ListFoldersReply = z.object({ folders: z.array(Folder) });
export type ListFoldersReply = z.infer<typeof ListFoldersReply>;
