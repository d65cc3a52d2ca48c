import type { FolderStatus } from '../../shared/ui-contract';

/** Folders in error or waiting for disk space, each with its reason, where the queue's state is shown. */
export function FolderProblems({ folders }: { folders: readonly FolderStatus[] }) {
  const broken = folders.filter((folder) => folder.state === 'error' || folder.state === 'disk_full');
  if (broken.length === 0) return null;
  return (
    <ul className="folder-problems" aria-label="Folders that need attention">
      {broken.map((folder) => (
        <li key={folder.id} className="banner banner-error" data-testid="folder-problem" data-folder={folder.id}>
          <span>
            <strong>{folder.id}</strong> ({folder.localPath}): {folder.error ?? 'in error'}
          </span>
        </li>
      ))}
    </ul>
  );
}
