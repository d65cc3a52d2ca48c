// What the store's tables share about paths: an entry's kind and the key range below a folder.

export type EntryKind = 'file' | 'dir';

/** The key range of every path under `dir/`: '0' sorts right after '/'. */
export const underBounds = (dir: string): [string, string] => [`${dir}/`, `${dir}0`];
