import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// docs/conflict-rules.md, "Sending changes": every row names the test that pins it. This keeps
// the table and the tests from drifting apart: a row whose test was renamed or removed fails here.
const ROOT = path.resolve(__dirname, '../..');
const rules = readFileSync(path.join(ROOT, 'docs/conflict-rules.md'), 'utf8');
const section = rules.slice(rules.indexOf('## Sending changes'), rules.indexOf('**Uploads in flight.**'));
const rows = [...section.matchAll(/^\| (S\d+) \|.*\| ([^|]+) \|$/gm)].map((m) => ({ row: m[1]!, tests: m[2]! }));

function testFile(name: string): string {
  for (const dir of ['test/unit', 'test/integration']) {
    try {
      return readFileSync(path.join(ROOT, dir, name), 'utf8');
    } catch {
      // not in this folder
    }
  }
  throw new Error(`no test file ${name}`);
}

describe('the push-side rows of docs/conflict-rules.md', () => {
  it('are numbered S1, S2, … with no gap', () => {
    expect(rows.length).toBeGreaterThanOrEqual(18);
    expect(rows.map((r) => r.row)).toEqual(rows.map((_, i) => `S${i + 1}`));
  });

  it('each have a test named after the row in the file the row names', () => {
    for (const { row, tests } of rows) {
      const named = [...tests.matchAll(/`([\w.-]+\.test\.ts)` "(S\d+)"/g)];
      expect(named.length, `${row} names no test`).toBeGreaterThan(0);
      for (const [, file, id] of named) {
        expect(id, `${row} names another row's test`).toBe(row);
        expect(testFile(file!), `${file} has no test "${row}: …"`).toMatch(new RegExp(`it\\('${row}[:,] `));
      }
    }
  });
});
