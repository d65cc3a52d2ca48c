import { FOLDER_ID, type Cluster } from './cluster';
import { liveLocalTree, serverTree, type Tree } from './snapshot';

/**
 * 7. Every path that differs between a device and the server has a reason from `why` (issue 17):
 * checked at the moment the faults stop and whenever a run ends unconverged. An answer of "in
 * sync" (or none) for a path that differs is a failure only while it lasts: the agents keep
 * syncing while they are asked, so a suspect path is looked at again (server, then disk) and
 * asked again, up to RELOOKS times. An answer stands only for the trees it was given against:
 * the path may converge and then differ anew (another device's delete reaching the server
 * between two looks; chaos seed 3), which the earlier "in sync" does not speak for.
 */
const RELOOKS = 3;

export async function checkWhyReasons(
  cluster: Cluster,
  when: string,
  vlog: (line: string) => void = () => undefined,
  /** Gets every first answer in full (an unconverged run prints them: what held each path). */
  answers?: (line: string) => void,
): Promise<string[]> {
  const failures: string[] = [];
  const answered = new Set<string>();
  const ask = async (d: Cluster['devices'][number], p: string): Promise<string | null> => {
    try {
      const answer = await d.client!.call('explainPath', { path: p, folderId: FOLDER_ID });
      vlog(`  why ${d.name} ${JSON.stringify(p)} (${when}): ${answer.reasons.map((r) => r.code).join(', ')}`);
      if (answers && !answered.has(`${d.name}\u0000${p}`)) {
        answered.add(`${d.name}\u0000${p}`);
        answers(`why ${d.name} ${JSON.stringify(p)}: ${answer.reasons.map((r) => `${r.code}: ${r.message}`).join(' | ') || 'no reason'}`);
      }
      return answer.reasons.length === 0 || answer.inSync ? (answer.reasons[0]?.message ?? 'nothing') : null;
    } catch (error) {
      failures.push(`[7] ${d.name}: why ${JSON.stringify(p)} failed ${when}: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
  };
  let server = await serverTree(cluster.api, FOLDER_ID);
  let suspects: Array<{ device: Cluster['devices'][number]; path: string; said: string }> = [];
  let asked = 0;
  for (const d of cluster.devices) {
    if (!d.client) continue;
    const tree = await liveLocalTree(d.root);
    for (const p of differingPaths(tree, server)) {
      asked++;
      const said = await ask(d, p);
      if (said !== null) suspects.push({ device: d, path: p, said });
    }
  }
  vlog(`why asked about ${asked} differing path(s) ${when}`);
  for (let look = 0; look < RELOOKS && suspects.length > 0; look++) {
    server = await serverTree(cluster.api, FOLDER_ID);
    const trees = new Map<string, Tree>();
    const still: typeof suspects = [];
    for (const s of suspects) {
      const tree = trees.get(s.device.name) ?? (await liveLocalTree(s.device.root));
      trees.set(s.device.name, tree);
      if (!differingPaths(tree, server).includes(s.path)) continue; // converged meanwhile
      const said = await ask(s.device, s.path);
      if (said !== null) still.push({ ...s, said });
    }
    suspects = still;
  }
  for (const s of suspects) failures.push(`[7] ${s.device.name}: ${JSON.stringify(s.path)} differs from the server ${when}, yet why says: ${s.said}`);
  return failures;
}

/** PURE: the files present on one side only, or with other content (NFC paths; temps aside). */
export function differingPaths(local: Tree, server: Tree): string[] {
  const paths = new Set<string>();
  for (const [p, f] of local.files) {
    const s = server.files.get(p);
    if (!s || s.blocks.join() !== f.blocks.join()) paths.add(p);
  }
  for (const p of server.files.keys()) if (!local.files.has(p)) paths.add(p);
  return [...paths].sort();
}
