import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasTwinAlong, mergeTwinSpellings, mergeTwinsAlong, twinGroups } from '../../main/engine/spellings';
import { makeTempDir } from '../helpers/local-temp';

const NFC = (s: string) => s.normalize('NFC');
const NFD = (s: string) => s.normalize('NFD');

// Two spellings (NFC, NFD) of one name in one folder (chaos seed 1051): merged into the
// spelling the key resolves to, nothing replaced and nothing lost (docs/conflict-rules.md).
describe('merging two spellings of one name', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    tmp = makeTempDir();
  });
  afterEach(() => tmp.cleanup());

  it('groups names by their NFC form, the NFC spelling first; ASCII names have no twin', () => {
    expect(twinGroups([NFD('café'), 'a', NFC('café'), 'A', NFC('ü')])).toEqual([[NFC('café'), NFD('café')]]);
  });

  it('merges twin folders level by level: moves what only one holds, drops identical files (empty ones too), keeps other bytes as a copy', async () => {
    const a = path.join(tmp.dir, NFC('ärger'));
    const b = path.join(tmp.dir, NFD('ärger'));
    mkdirSync(path.join(a, NFC('ü')), { recursive: true });
    mkdirSync(path.join(b, NFD('ü')), { recursive: true });
    writeFileSync(path.join(a, 'same.txt'), 'same');
    writeFileSync(path.join(b, 'same.txt'), 'same');
    writeFileSync(path.join(a, 'empty'), '');
    writeFileSync(path.join(b, 'empty'), '');
    writeFileSync(path.join(a, NFC('ü'), 'cv.pdf'), 'NFC bytes');
    writeFileSync(path.join(b, NFD('ü'), 'cv.pdf'), 'NFD bytes');
    writeFileSync(path.join(b, 'only-b.txt'), 'only in b');

    const report = await mergeTwinSpellings(tmp.dir, { deviceName: 'dev-b' });
    expect(readdirSync(tmp.dir)).toEqual([NFC('ärger')]);
    expect(readdirSync(a).sort()).toEqual(['empty', 'only-b.txt', 'same.txt', NFC('ü')].sort());
    expect(readFileSync(path.join(a, 'empty'), 'utf8')).toBe('');
    const inner = readdirSync(path.join(a, NFC('ü'))).sort();
    expect(inner).toHaveLength(2);
    expect(inner).toContain('cv.pdf');
    expect(inner.find((n) => n !== 'cv.pdf')).toMatch(/^cv \(conflict from dev-b \d{4}-\d{2}-\d{2} \d{6}\)\.pdf$/);
    expect(inner.map((n) => readFileSync(path.join(a, NFC('ü'), n), 'utf8')).sort()).toEqual(['NFC bytes', 'NFD bytes']);
    expect(report).toMatchObject({ moved: 1, duplicates: 2, clashes: [] });
    expect(report.copies).toHaveLength(1);
  });

  it('leaves a file and a folder of one name as they are, and reports it', async () => {
    writeFileSync(path.join(tmp.dir, NFC('é')), 'a file');
    mkdirSync(path.join(tmp.dir, NFD('é')));
    const report = await mergeTwinSpellings(tmp.dir, { deviceName: 'dev-b' });
    expect(readdirSync(tmp.dir).sort()).toEqual([NFC('é'), NFD('é')].sort());
    expect(report.clashes).toEqual([path.join(tmp.dir, NFD('é'))]);
  });

  it('finds and merges twins on the way to a hinted path', async () => {
    mkdirSync(path.join(tmp.dir, 'docs', NFC('ärger')), { recursive: true });
    mkdirSync(path.join(tmp.dir, 'docs', NFD('ärger')));
    writeFileSync(path.join(tmp.dir, 'docs', NFD('ärger'), 'x.txt'), 'x');
    const hinted = `docs/${NFD('ärger')}/x.txt`;
    expect(hasTwinAlong(tmp.dir, hinted)).toBe(true);
    expect(hasTwinAlong(tmp.dir, 'docs')).toBe(false);
    await mergeTwinsAlong(tmp.dir, hinted, { deviceName: 'dev-b' });
    expect(readdirSync(path.join(tmp.dir, 'docs'))).toEqual([NFC('ärger')]);
    expect(readFileSync(path.join(tmp.dir, 'docs', NFC('ärger'), 'x.txt'), 'utf8')).toBe('x');
    expect(hasTwinAlong(tmp.dir, hinted)).toBe(false);
  });
});
