import { FOLDER_ID, type Cluster } from './cluster';
import { liveLocalTree, serverTree, type Tree } from './snapshot';

/**
 * 7. Every path that differs between a device and the server has a reason from `why` (issue 17):
 * checked at the moment the faults stop and whenever a run ends unconverged. An answer of "in
 * sync" (or none) for a path that differs is a failure, unless the path has converged by the
 * time it is looked at again (the agents keep syncing while they are asked).
 */
export async function checkWhyReasons(cluster: Cluster, when: string, vlog: (line: string) => void = () => undefined): Promise<string[]> {
  const server = await serverTree(cluster.api, FOLDER_ID);
  const suspects: Array<{ device: Cluster['devices'][number]; path: string; said: string }> = [];
  const failures: string[] = [];
  let asked = 0;
  for (const d of cluster.devices) {
    if (!d.client) continue;
    const tree = await liveLocalTree(d.root);
    for (const p of differingPaths(tree, server)) {
      asked++;
      try {
        const answer = await d.client.call('explainPath', { path: p, folderId: FOLDER_ID });
        vlog(`  why ${d.name} ${JSON.stringify(p)} (${when}): ${answer.reasons.map((r) => r.code).join(', ')}`);
        if (answer.reasons.length === 0 || answer.inSync) suspects.push({ device: d, path: p, said: answer.reasons[0]?.message ?? 'nothing' });
      } catch (error) {
        failures.push(`[7] ${d.name}: why ${JSON.stringify(p)} failed ${when}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  vlog(`why asked about ${asked} differing path(s) ${when}`);
  if (suspects.length === 0) return failures;
  // Looked at again: a path that converged meanwhile was answered rightly.
  const now = await serverTree(cluster.api, FOLDER_ID);
  const trees = new Map<string, Tree>();
  for (const s of suspects) {
    const tree = trees.get(s.device.name) ?? (await liveLocalTree(s.device.root));
    trees.set(s.device.name, tree);
    if (!differingPaths(tree, now).includes(s.path)) continue;
    failures.push(`[7] ${s.device.name}: ${JSON.stringify(s.path)} differs from the server ${when}, yet why says: ${s.said}`);
  }
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
