import { readdirSync, renameSync, type Dirent } from 'node:fs';
import path from 'node:path';
import type { Cluster } from './cluster';

/**
 * After a seed settled: one pure rename on the first device (its first top-level folder, or
 * its first file when it has none), then settle again. A pure rename moves bytes every device
 * already holds, so no device may ask the server for a block meanwhile (issue 16; counted at
 * the proxy every agent talks through: single GETs and batch fetches).
 */
export async function renameProbe(cluster: Cluster, settle: () => Promise<boolean>): Promise<{ renamed: string | null; blockRequests: number; settled: boolean }> {
  const root = cluster.devices[0]!.root;
  const pick = probeTarget(root, cluster.devices.slice(1).map((d) => d.root));
  if (!pick) return { renamed: null, blockRequests: 0, settled: true };
  const downloads = () => cluster.proxy.requests({ method: 'GET', path: /^\/v1\/blocks\/[0-9a-f]{64}$/ }).length + cluster.proxy.requests({ method: 'POST', path: /^\/v1\/blocks\/fetch$/ }).length;
  const before = downloads();
  const to = `${pick.name} renamed`;
  renameSync(path.join(root, pick.name), path.join(root, to));
  const settled = await settle();
  return { renamed: `${pick.name} → ${to}`, blockRequests: downloads() - before, settled };
}

/**
 * The first device's first top-level folder, or its first file when it has none, that no other
 * device has a symbolic link under the name of (chaos --links): that device never held what is
 * there (U8, DU5) and downloads it, rightly (chaos seed 72005).
 */
export function probeTarget(root: string, otherRoots: readonly string[]): Dirent | undefined {
  const linked = new Set(otherRoots.flatMap((r) => readdirSync(r, { withFileTypes: true }).filter((e) => e.isSymbolicLink()).map((e) => e.name.normalize('NFC'))));
  const entries = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.name !== '.ferry' && !linked.has(e.name.normalize('NFC')))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  return entries.find((e) => e.isDirectory()) ?? entries.find((e) => e.isFile());
}
