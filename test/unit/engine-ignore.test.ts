import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IGNORES, createIgnoreMatcher, loadFolderIgnore } from '../../main/engine/ignore';
import { makeTempDir } from '../helpers/local-temp';

describe('ignore rules', () => {
  it('ignores OS and editor litter and .ferry/ by default', () => {
    const m = createIgnoreMatcher();
    for (const p of ['.DS_Store', 'sub/.DS_Store', 'Thumbs.db', 'desktop.ini', '~$report.docx', 'a/.~lock.report.odt#', '.notes.txt.swp', 'notes.txt~', 'x.tmp', '.ferry/folder-id', '.ferry/tmp/abc']) {
      expect(m.ignores(p), p).toBe(true);
    }
    expect(m.ignores('.ferry', true)).toBe(true);
    for (const p of ['notes.txt', 'report.docx', 'tmp/file', 'sub/.ferry-not']) expect(m.ignores(p), p).toBe(false);
  });

  it('applies .ferryignore in gitignore syntax: globs, dir-only rules, negation, anchoring', () => {
    const tmp = makeTempDir();
    try {
      writeFileSync(path.join(tmp.dir, '.ferryignore'), '# build output\nbuild/\n*.log\n!keep.log\n/top-only.txt\n');
      const m = loadFolderIgnore(tmp.dir);
      expect(m.ignores('build', true)).toBe(true);
      expect(m.ignores('build/out.js')).toBe(true);
      expect(m.ignores('build', false)).toBe(false); // a file named build is not the dir
      expect(m.ignores('a/b/debug.log')).toBe(true);
      expect(m.ignores('keep.log')).toBe(false);
      expect(m.ignores('top-only.txt')).toBe(true);
      expect(m.ignores('sub/top-only.txt')).toBe(false);
      expect(m.ignores('.DS_Store')).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });

  it('works without a .ferryignore', () => {
    const tmp = makeTempDir();
    try {
      expect(loadFolderIgnore(tmp.dir).ignores('a.txt')).toBe(false);
    } finally {
      tmp.cleanup();
    }
  });
});

// A new-user try found the default rules listed nowhere (the README said "OS and editor litter").
describe('the docs list the default ignore rules', () => {
  it.each(['README.md', 'docs/conflict-rules.md'])('%s names each, and says .ferryignore syncs while the settings\' rules stay here', (file) => {
    const text = readFileSync(path.join(__dirname, '../..', file), 'utf8').replace(/\s+/g, ' ');
    // What is missing, not the whole file, on failure.
    const said = ['`.ferryignore` is a file in the synced folder', "the settings' rules are this device's only", ...DEFAULT_IGNORES.map((rule) => `\`${rule}\``)];
    expect(said.filter((words) => !text.includes(words))).toEqual([]);
  });
});
