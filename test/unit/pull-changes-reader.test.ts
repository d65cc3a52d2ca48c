import { describe, expect, it } from 'vitest';
import type { ChangeItem, ChangesPage } from '../../protocol/changes';
import { FerryError } from '../../protocol/errors';
import { mergeItems, readChanges } from '../../main/engine/pull/changes-reader';
import type { ChangesQuery } from '../../main/engine/pull/remote-port';

const H = 'a'.repeat(64);
const item = (path: string, revision: string, date: string, over: Partial<ChangeItem> = {}): ChangeItem => ({
  path,
  revision,
  deleted: false,
  size: 1,
  mtime: 1,
  blocks: [H],
  modificationDate: date,
  device: 'dev-b',
  kind: 'file',
  ...over,
});
const next = (cursor: string) => ({ next: { href: `/v1/folders/f/changes?syncModifications=true&cursor=${cursor}&limit=2` } });
const last = (token: string) => ({ 'upcoming-modifications': { href: `/v1/folders/f/changes?syncModifications=true&syncToken=${token}` } });

/** A page source keyed by "token:<t>" / "cursor:<c>" / "full", recording what was asked. */
function source(pages: Record<string, unknown>) {
  const asked: ChangesQuery[] = [];
  return {
    asked,
    async changesPage(_folder: string, query: ChangesQuery): Promise<ChangesPage> {
      asked.push(query);
      const key = query.cursor ? `cursor:${query.cursor}` : query.syncToken ? `token:${query.syncToken}` : 'full';
      const page = pages[key];
      if (page instanceof Error) throw page;
      if (page === undefined) throw new Error(`no page ${key}`);
      return page as ChangesPage;
    },
  };
}

describe('changes reader', () => {
  it('follows next links and returns the final token', async () => {
    const src = source({
      'token:T0': { items: [item('a', '1', '2025-01-01T00:00:01Z')], _links: next('c1') },
      'cursor:c1': { items: [item('b', '2', '2025-01-01T00:00:02Z')], _links: next('c2') },
      'cursor:c2': { items: [item('c', '3', '2025-01-01T00:00:03Z')], _links: last('T1') },
    });
    const read = await readChanges(src, 'f', 'T0', { limit: 2 });
    expect(read).toMatchObject({ kind: 'ok', full: false, token: 'T1', pages: 3 });
    expect(read.kind === 'ok' && read.items.map((i) => i.path)).toEqual(['a', 'b', 'c']);
    expect(src.asked).toEqual([{ syncToken: 'T0', limit: 2 }, { cursor: 'c1', limit: 2 }, { cursor: 'c2', limit: 2 }]);
  });
  it('keeps the newest modificationDate for a path seen again on a later page', async () => {
    const src = source({
      full: { items: [item('a', '1', '2025-01-01T00:00:05Z'), item('b', '2', '2025-01-01T00:00:01Z')], _links: next('c1') },
      'cursor:c1': {
        items: [item('a', '3', '2025-01-01T00:00:09Z', { deleted: true, blocks: [], size: 0 }), item('b', '4', '2024-12-31T00:00:00Z')],
        _links: last('T1'),
      },
    });
    const read = await readChanges(src, 'f', undefined);
    if (read.kind !== 'ok') throw new Error('expected ok');
    expect(read.full).toBe(true);
    expect(read.items.find((i) => i.path === 'a')).toMatchObject({ revision: '3', deleted: true });
    expect(read.items.find((i) => i.path === 'b')).toMatchObject({ revision: '2' });
  });
  it('breaks ties in favour of the later page', () => {
    const m = new Map<string, ChangeItem>();
    mergeItems(m, [item('a', '1', '2025-01-01T00:00:00Z')]);
    mergeItems(m, [item('a', '2', '2025-01-01T00:00:00.000+00:00')]);
    expect(m.get('a')?.revision).toBe('2');
  });
  it('signals an expired token instead of failing', async () => {
    const src = source({ 'token:OLD': new FerryError('sync_token_expired', 'expired', { status: 410 }) });
    await expect(readChanges(src, 'f', 'OLD')).resolves.toEqual({ kind: 'expired' });
  });
  it('fails the whole read on a malformed page (nothing is returned to apply)', async () => {
    const bad = source({
      full: { items: [item('a', '1', '2025-01-01T00:00:00Z')], _links: next('c1') },
      'cursor:c1': { items: [{ path: 'b' }], _links: last('T') },
    });
    await expect(readChanges(bad, 'f', undefined)).rejects.toMatchObject({ code: 'malformed_reply', retryable: true });
    const both = source({ full: { items: [], _links: { ...next('c'), ...last('T') } } });
    await expect(readChanges(both, 'f', undefined)).rejects.toMatchObject({ code: 'malformed_reply' });
    const noToken = source({ full: { items: [], _links: { 'upcoming-modifications': { href: '/v1/x' } } } });
    await expect(readChanges(noToken, 'f', undefined)).rejects.toThrow(/no syncToken/);
    const noCursor = source({ full: { items: [], _links: { next: { href: '/v1/x?limit=3' } } } });
    await expect(readChanges(noCursor, 'f', undefined)).rejects.toThrow(/no cursor/);
  });
  it('refuses next links that loop', async () => {
    const src = source({ full: { items: [], _links: next('c1') }, 'cursor:c1': { items: [], _links: next('c1') } });
    await expect(readChanges(src, 'f', undefined)).rejects.toThrow(/loops/);
  });
  it('passes other errors through (retried by the puller)', async () => {
    const src = source({ 'token:T': new FerryError('unavailable', 'down', { retryable: true, status: 503 }) });
    await expect(readChanges(src, 'f', 'T')).rejects.toMatchObject({ code: 'unavailable' });
  });
});
