import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../main/engine/agent';
import { startServer, type RunningServer } from '../../server/main';
import { FaultProxy } from '../fakes/fault-proxy';
import { startTestAgent } from '../helpers/agent-settings';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * What runs during a save without being on its way (docs/architecture.md, "The files on the
 * way"): the listeners the way tells (status, events, rates, Activity, the device report, the
 * folder set's outcome hook, the link watch told each request's outcome), the log, the timers and the store's clock and transaction helper.
 * Nothing of the pull runs: the test holds the long polls, so the commit wakes none.
 */
const NOT_ON_THE_WAY = [
  'main/engine/agent/agent.ts',
  'main/engine/agent/connection.ts',
  'main/engine/agent/engine.ts',
  'main/engine/agent/events.ts',
  'main/engine/agent/status.ts',
  'main/engine/agent/status-parts.ts',
  'main/engine/agent/rate-meter.ts',
  'main/engine/agent/device-report.ts',
  'main/engine/folder/folders.ts',
  // The folders' rows, which the status lists on its timer; no step of the way reads them (the
  // claim joins its folder in its own statement, the scanner keeps the marker id it read once).
  'main/store/folders.ts',
  'main/store/activity.ts',
  'main/engine/activity-batch.ts',
  // The pulls' health as the status reads it (the status is computed on a timer: in the window or not).
  'main/engine/pull/health.ts',
  // The server's paths the rules keep from here, which the status counts with the folder's totals.
  'main/store/ignored-remote.ts',
  'main/store/settings.ts',
  'main/logging.ts',
  'main/engine/timers.ts',
  'main/store/index.ts',
  'main/store/clock.ts',
];

/** The list under "The files on the way" in docs/architecture.md. */
function documentedWay(): string[] {
  const doc = readFileSync(path.join(REPO, 'docs/architecture.md'), 'utf8');
  const start = doc.indexOf('### The files on the way');
  if (start < 0) throw new Error('docs/architecture.md has no "The files on the way" section');
  const end = doc.indexOf('\n## ', start);
  const section = doc.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^- `((?:main|protocol|shared)\/[^`]+\.ts)`/gm)].map((m) => m[1]!).sort();
}

/** The repository's source files with code that ran since the last take (V8's precise coverage). */
async function ranSince(session: Session): Promise<string[]> {
  const { result } = await session.post('Profiler.takePreciseCoverage');
  const files = new Set<string>();
  for (const script of result) {
    if (!script.url.startsWith('file://')) continue;
    const rel = path.relative(REPO, fileURLToPath(script.url)).split(path.sep).join('/');
    if (!/^(main|protocol|shared)\//.test(rel)) continue;
    if (script.functions.some((f) => (f.ranges[0]?.count ?? 0) > 0)) files.add(rel);
  }
  return [...files].sort();
}

describe('the way of a saved file to the server', () => {
  const tmp = makeTempDir('ferry-way-');
  let server: RunningServer | undefined;
  let proxy: FaultProxy | undefined;
  let agent: Agent | undefined;
  afterAll(async () => {
    await agent?.stop();
    await proxy?.close();
    await server?.close();
    tmp.cleanup();
  });

  it('runs through exactly the files docs/architecture.md lists, and no others', async () => {
    const folder = path.join(tmp.dir, 'folder');
    mkdirSync(folder);
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    // The long polls are held, so no pull of the commit's own echo runs while the save is traced.
    proxy = await FaultProxy.start({ target: server.url });
    proxy.add({ path: /\/changes\/wait$/, times: Infinity, action: { kind: 'delay', ms: 120_000 } });
    agent = await startTestAgent(path.join(tmp.dir, 'agent'), { url: proxy.url, token: server.token }, [{ localPath: folder, remoteId: 'shared' }]);
    // Read beside the agent, with no code of main/ (which the coverage would count).
    const db = new Database(path.join(tmp.dir, 'agent', 'state.db'), { readonly: true, fileMustExist: true });
    const committed = (rel: string) => db.prepare("SELECT 1 FROM queue WHERE path = ? AND state = 'done'").get(rel) !== undefined;
    try {
      // One save first, so that what runs once per process (lazy set-up) is not counted.
      writeFileSync(path.join(folder, 'first.txt'), 'first');
      await waitFor(() => committed('first.txt'), { timeoutMs: 20_000, message: 'first.txt committed' });

      const session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
      await ranSince(session);
      writeFileSync(path.join(folder, 'saved.txt'), 'the saved bytes');
      await waitFor(() => committed('saved.txt'), { timeoutMs: 20_000, message: 'saved.txt committed' });
      const ran = await ranSince(session);
      await session.post('Profiler.stopPreciseCoverage');
      session.disconnect();

      const onTheWay = ran.filter((file) => !NOT_ON_THE_WAY.some((prefix) => file.startsWith(prefix)));
      const documented = documentedWay();
      // Both ways: a new hop on the way fails this until the list names it, and so does a
      // listed file the way no longer runs through.
      expect(onTheWay).toEqual(documented);
    } finally {
      db.close();
    }
  });
});
