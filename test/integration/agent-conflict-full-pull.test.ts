import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { syncTokenFromHref } from '../../protocol';
import { SyncApiClient } from '../../main/remote';
import { openStore } from '../../main/store';
import { agentsOnServer, contentOf, twoDevicesHolding } from '../helpers/agents-on-server';
import { waitFor } from '../helpers/wait';

// Chaos --kinds seed 60039: a pull refused another device's change and its sync token went past
// it; the user here then deleted that path. The delete met a conflict, the pull it asked for read
// nothing new, and the conflict came back at every recheck, for ever. A conflict the pull does
// not settle makes one full pull (docs/conflict-rules.md, "Conflicts that wait").
describe('a conflict the incremental pull does not settle (chaos seed 60039)', () => {
  const setup = agentsOnServer('ferry-conflict-full-', { local: { settleMs: 30 } }, undefined, { remoteId: 'docs' });
  afterAll(() => setup.stop());

  it('makes one full pull: the other device\'s version comes back here, and the delete is dropped', async () => {
    await setup.start();
    const { folderA, folderB } = await twoDevicesHolding(setup, ['notes/x.txt', 'other.txt']);
    const client = new SyncApiClient({ baseUrl: setup.server.url, token: setup.server.token, deviceId: 'observer' });
    const serverHolds = async () => new Map((await client.changesPage('docs', { limit: 1000 })).items.filter((i) => !i.deleted).map((i) => [i.path, i.revision]));
    const v1 = (await serverHolds()).get('notes/x.txt');
    expect(v1).toBeDefined();
    let v2: string | undefined;
    const b = await setup.restart('b', async () => {
      // While b is off: a writes v2; b's token goes past v2 without b having it (as after a pull
      // that refused it), and b's user deletes the file it holds, v1.
      writeFileSync(path.join(folderA, 'notes/x.txt'), 'v2 from a');
      await waitFor(async () => (await serverHolds()).get('notes/x.txt') !== v1, { timeoutMs: 20_000, message: 'v2 on the server' });
      v2 = (await serverHolds()).get('notes/x.txt');
      const page = await client.changesPage('docs', { limit: 1000 });
      const store = openStore(path.join(setup.dataDir('b'), 'state.db'));
      const folderId = store.folders.list()[0]!.id;
      store.tokens.set(folderId, syncTokenFromHref(page._links['upcoming-modifications']!.href)!);
      store.close();
      rmSync(path.join(folderB, 'notes/x.txt'));
    });

    await waitFor(
      () => {
        try {
          return readFileSync(path.join(folderB, 'notes/x.txt'), 'utf8') === 'v2 from a';
        } catch {
          return false;
        }
      },
      { timeoutMs: 20_000, message: "a's v2 back on b" },
    );
    await waitFor(() => b.status().counts.pending === 0 && b.status().counts.retry_wait === 0 && b.status().counts.in_flight === 0, { timeoutMs: 20_000, message: 'b has nothing left to send' });
    // The delete never reached the server: v2 is still its current revision; other.txt untouched.
    expect((await serverHolds()).get('notes/x.txt')).toBe(v2);
    expect(readFileSync(path.join(folderB, 'other.txt'), 'utf8')).toBe(contentOf('other.txt'));
    client.close();
  }, 120_000);
});
