import type { SqlDb } from './storage/sql';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export interface ThinReport {
  /** Past revisions dropped: thinned out, or older than the retention period. */
  versions: number;
}

/**
 * Staggered retention of past revisions (docs/sync-api.md, "Retention and garbage
 * collection"): every revision for the first hour, the newest of each clock hour for a day,
 * the newest of each day after that, none older than `keepMs`. The current entry of a path
 * (live or a deletion) is never touched here; tombstones expire with the changes feed's prune.
 * Because only past revisions are bucketed, the last live revision before a deletion is the
 * newest of its bucket and stays for the whole period: a deleted file can be restored as long
 * as its deletion is kept.
 */
export async function thinVersions(db: SqlDb, now: number, keepMs: number): Promise<ThinReport> {
  const rows = await db.all<{ seq: number; folder_id: string; path: string; modified_at: number }>(
    `SELECT seq, folder_id, path, modified_at FROM versions
     WHERE modified_at < ? AND seq NOT IN (SELECT seq FROM entries)
     ORDER BY folder_id, path, seq DESC`,
    [now - Math.min(HOUR_MS, keepMs)],
  );
  const drop: number[] = [];
  let lastKey = '';
  let seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.folder_id}\u0000${row.path}`;
    if (key !== lastKey) {
      lastKey = key;
      seen = new Set();
    }
    const age = now - row.modified_at;
    if (age > keepMs) {
      drop.push(row.seq);
      continue;
    }
    if (age < HOUR_MS) continue;
    const bucket = age < DAY_MS ? `h${Math.floor(row.modified_at / HOUR_MS)}` : `d${Math.floor(row.modified_at / DAY_MS)}`;
    if (seen.has(bucket)) drop.push(row.seq);
    else seen.add(bucket);
  }
  await db.tx(async () => {
    for (const seq of drop) await db.run('DELETE FROM versions WHERE seq = ?', [seq]);
  });
  return { versions: drop.length };
}
