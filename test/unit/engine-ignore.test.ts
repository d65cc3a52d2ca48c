import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IGNORES, createIgnoreMatcher, deadRules, loadFolderIgnore } from '../../main/engine/ignore';
import { Settings, WrittenSettings, fieldErrors, ignoreRuleProblem } from '../../shared/settings';
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

// docs/conflict-rules.md, "Rules that match nothing": git drops these without a word; Ferry names them.
describe('ignore rules that can match nothing', () => {
  const dead: Array<[string, string]> = [
    ['[draft', 'has a [ without its ], so it matches nothing: write \\[ for a [ in a name'],
    ['*.[ch', 'has a [ without its ], so it matches nothing: write \\[ for a [ in a name'],
    ['[]', 'has a [ without its ], so it matches nothing: write \\[ for a [ in a name'],
    ['notes\\', 'ends in a lone \\, so it matches nothing: write \\\\ for a backslash'],
  ];
  it.each(dead)('%s: refused, and the ignore package indeed matches nothing with it', (rule, problem) => {
    expect(ignoreRuleProblem(rule)).toBe(problem);
    const m = createIgnoreMatcher([rule]);
    // The names the rule reads as, or could be meant as: none is ignored.
    const literal = rule.replace(/\\$/, '');
    for (const name of [rule, literal, literal.replace(/[[\]]/g, ''), 'draft', 'x.c', 'x.[ch', 'reportb.txt', 'report[z-a].txt']) expect(m.ignores(name), name).toBe(false);
  });

  // A backwards range is no dead rule here: the matcher reads `[z-a]` as its first character (found by review).
  it.each(['\\[draft', '[z-a]', '[a-z]*.md', '*.[ch]', '[]]x', '[!]x]', '[\\]]', 'notes\\ ', 'a\\\\', 'build/', '!keep.log', '[a-]'])('%s: a rule that matches something is accepted', (rule) => {
    expect(ignoreRuleProblem(rule)).toBeNull();
  });

  it('lists a .ferryignore\'s by line, comments and blank lines aside, then the settings\'', () => {
    // A settings rule saved by an earlier version that gitignore reads as a comment is named too (found by review).
    expect(deadRules('*.log\r\n# [not a rule\n\n[draft\n', ['ok/', '#notes#', 'x[y'])).toEqual([
      { where: '.ferryignore line 4', rule: '[draft', problem: 'has a [ without its ], so it matches nothing: write \\[ for a [ in a name' },
      { where: 'the settings', rule: '#notes#', problem: 'starts with #, so it is read as a comment and matches nothing: write \\# for a name that starts with #' },
      { where: 'the settings', rule: 'x[y', problem: 'has a [ without its ], so it matches nothing: write \\[ for a [ in a name' },
    ]);
  });

  it('settings written are held to it; settings read back are not (a rule saved by an earlier version still loads)', () => {
    const settings = { serverUrl: 'http://127.0.0.1:1', token: 't', ignoreRules: ['*.tmp', '[draft'] };
    const written = WrittenSettings.safeParse(settings);
    expect(written.success).toBe(false);
    if (!written.success) expect(fieldErrors(written.error)).toEqual({ 'ignoreRules.1': '"[draft" has a [ without its ], so it matches nothing: write \\[ for a [ in a name' });
    expect(Settings.safeParse(settings).success).toBe(true);
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
