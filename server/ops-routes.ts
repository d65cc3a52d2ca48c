import { redact } from '../main/logging';
import { route, type Route } from './http';
import type { MetricsSnapshot, ServerMetrics } from './metrics';
import type { BlockStore } from './storage/blocks';
import type { SqlDb } from './storage/sql';

export interface OpsDeps {
  db: SqlDb;
  blocks: BlockStore;
  metrics: ServerMetrics;
  /** True once the process is shutting down: not ready for new work. */
  draining: () => boolean;
  longPollsWaiting: () => number;
  bodyBytesBuffered: () => number;
  lastGc: () => MetricsSnapshot['lastGc'];
}

/** A readiness check that hangs is a failed one. */
const PROBE_MS = 2000;

/**
 * For load balancers and monitoring (docs/sync-api.md, "Operations"), answered without the
 * bearer token: none of them names a path, a folder, a device or a token.
 */
export function opsRoutes(deps: OpsDeps): Route[] {
  return [
    route('GET', '/healthz', 'none', async () => ({ status: 200, body: { status: 'ok' } })),
    route('GET', '/readyz', 'none', async () => {
      if (deps.draining()) return notReady('shutting down');
      const db = await within(deps.db.get('SELECT 1 AS one'));
      if (db !== null) return notReady(`database unreachable: ${db}`);
      const blocks = await within(deps.blocks.probe());
      if (blocks !== null) return notReady(`block store unreachable: ${blocks}`);
      return { status: 200, body: { status: 'ready' } };
    }),
    route('GET', '/metrics', 'none', async (ctx) => {
      const rows = await deps.db.all<{ status: string; n: number }>("SELECT status, COUNT(*) AS n FROM tasks WHERE status IN ('Queued', 'Processing') GROUP BY status");
      const count = (status: string): number => Number(rows.find((r) => r.status === status)?.n ?? 0);
      const text = deps.metrics.render({
        tasks: { Queued: count('Queued'), Processing: count('Processing') },
        lostBlocks: Number((await deps.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM lost_blocks'))?.n ?? 0),
        longPollsWaiting: deps.longPollsWaiting(),
        bodyBytesBuffered: deps.bodyBytesBuffered(),
        lastGc: deps.lastGc(),
      });
      ctx.res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      ctx.res.end(text);
      return null;
    }),
  ];
}

function notReady(reason: string) {
  return { status: 503, body: { status: 'not_ready', reason }, headers: { 'retry-after': '1' } };
}

/** Null when the check passed in time, else why not (a code, never a URL with its password). */
async function within(check: Promise<unknown>): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${PROBE_MS} ms`), PROBE_MS)));
  try {
    return await Promise.race([check.then(() => null), late]);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { name?: string };
    return redact(e.code ?? e.name ?? 'error');
  } finally {
    clearTimeout(timer);
  }
}
