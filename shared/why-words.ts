/** What a path is on disk, in the words `ferry why` and the Why panel both use. */
export function localKindWord(kind: 'file' | 'dir' | 'link' | 'special' | null): string {
  // A link said as one (a new-user try read "on disk: other" for a symbolic link).
  if (kind === 'link') return 'symbolic link';
  if (kind === 'special') return 'not a regular file or folder';
  return kind ?? 'other';
}
