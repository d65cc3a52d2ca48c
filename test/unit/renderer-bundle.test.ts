import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { staleRendererSource } from '../../main/control/agent-host';
import { tempDirsEachTest } from '../helpers/local-temp';

// A new-user try met the old History panel: the agent served dist/renderer, built before the
// source it was made from changed. The agent now says so at start.
const tempDir = tempDirsEachTest('ferry-renderer-bundle-');

describe('the web UI bundle', () => {
  it('names a source edited after the bundle was built; says nothing of a current one, or one with no list of its inputs', () => {
    const root = tempDir();
    const dist = path.join(root, 'dist', 'renderer');
    mkdirSync(path.join(root, 'renderer'), { recursive: true });
    mkdirSync(dist, { recursive: true });
    writeFileSync(path.join(root, 'renderer', 'main.tsx'), 'x');
    writeFileSync(path.join(root, 'renderer', 'styles.css'), 'x');
    writeFileSync(path.join(dist, 'app.js'), 'bundle');
    expect(staleRendererSource(dist, root)).toBeUndefined();
    writeFileSync(path.join(dist, 'inputs.json'), JSON.stringify(['renderer/main.tsx', 'renderer/styles.css', 'renderer/gone.tsx']));
    const built = new Date('2030-01-01T00:00:00Z');
    utimesSync(path.join(dist, 'app.js'), built, built);
    const before = new Date('2029-12-31T00:00:00Z');
    for (const f of ['main.tsx', 'styles.css']) utimesSync(path.join(root, 'renderer', f), before, before);
    expect(staleRendererSource(dist, root)).toBeUndefined();
    const after = new Date('2030-01-02T00:00:00Z');
    utimesSync(path.join(root, 'renderer', 'styles.css'), after, after);
    expect(staleRendererSource(dist, root)).toBe('renderer/styles.css');
  });
});
