import type { FaultRule } from '../fakes/fault-proxy';
import { createRng, deriveSeed } from './rng';

/**
 * The fault plan of a seed: probabilistic rules for the fault proxy in front of the server
 * (5xx, 429 and 503 with Retry-After, 504 on sync batches, connections dropped mid-body,
 * slow replies), and process events at chosen steps of the workload: kill -9 of an agent
 * followed by a restart some steps later, a server restart (SIGTERM or SIGKILL) on the same
 * port, and the proxy going offline (every open connection cut) for a few steps.
 *
 * On PostgreSQL + S3 (`--backend postgres`), once per seed PostgreSQL itself stops and starts
 * again on the same data; with several server processes (`--servers N`) a server restart is a
 * kill -9 of one process, taken out of the proxy's rotation while the others keep serving,
 * and its start again on the same port some steps later.
 */
export type FaultEvent =
  | { kind: 'kill-agent'; device: number }
  | { kind: 'start-agent'; device: number }
  | { kind: 'restart-server'; hard: boolean }
  | { kind: 'kill-server'; process: number }
  | { kind: 'start-server'; process: number }
  | { kind: 'restart-postgres'; downMs: number }
  | { kind: 'proxy-offline' }
  | { kind: 'proxy-online' };

export interface FaultPlan {
  /** Events to run before the op of that step. */
  events: Map<number, FaultEvent[]>;
  rules: FaultRule[];
  proxySeed: number;
}

const API = /^\/v1\//;

/** What the server side of a seed is: SQLite and one process, or PostgreSQL + S3 and N processes. */
export interface ServerSetup {
  backend: 'sqlite' | 'postgres';
  servers: number;
}

export const SQLITE_SERVER: ServerSetup = { backend: 'sqlite', servers: 1 };

export function makeFaultPlan(seed: number, devices: number, opCount: number, enabled: boolean, setup: ServerSetup = SQLITE_SERVER): FaultPlan {
  const rng = createRng(seed);
  const events = new Map<number, FaultEvent[]>();
  const plan: FaultPlan = { events, rules: [], proxySeed: rng.seed() };
  if (!enabled || opCount < 4) return plan;
  const at = (step: number, event: FaultEvent) => {
    const s = Math.min(step, opCount - 1);
    events.set(s, [...(events.get(s) ?? []), event]);
  };

  plan.rules = [
    { name: '500', path: API, probability: 0.02, times: Infinity, action: { kind: 'status', status: 500 } },
    { name: '503 Retry-After', path: API, probability: 0.015, times: Infinity, action: { kind: 'status', status: 503, retryAfter: 1 } },
    { name: '429 Retry-After', path: API, probability: 0.02, times: Infinity, action: { kind: 'status', status: 429, retryAfter: 1 } },
    // The server applies the batch, the client is told it ran past its budget and resubmits.
    { name: '504 after apply', method: 'POST', path: /\/sync$/, query: /mode=sync/, probability: 0.08, times: Infinity, action: { kind: 'status', status: 504, forward: true, code: 'timeout' } },
    { name: 'cut reply mid-body', method: 'GET', path: /^\/v1\/(blocks\/|folders\/[^/]+\/changes$)/, probability: 0.04, times: Infinity, action: { kind: 'drop-response', afterBytes: rng.int(1, 64) } },
    { name: 'cut upload mid-body', method: 'PUT', path: /^\/v1\/blocks\//, probability: 0.03, times: Infinity, action: { kind: 'drop-request', afterBytes: rng.int(1, 2048) } },
    { name: 'slow reply', path: API, probability: 0.04, times: Infinity, action: { kind: 'delay', ms: rng.int(200, 1500) } },
  ];

  // Process events, spread over the run: about one agent kill per 20 ops, one server restart
  // per 40 and one proxy outage per 40, at least one of each.
  const kills = Math.max(1, Math.round(opCount / 20));
  const downUntil = new Array<number>(devices).fill(-1);
  for (let k = 0; k < kills; k++) {
    const device = rng.int(0, devices - 1);
    const step = rng.int(1, opCount - 2);
    if (step <= downUntil[device]!) continue;
    const back = step + rng.int(1, 8);
    downUntil[device] = back;
    at(step, { kind: 'kill-agent', device });
    at(back, { kind: 'start-agent', device });
  }
  const restarts = Math.max(1, Math.round(opCount / 40));
  for (let k = 0; k < restarts; k++) at(rng.int(1, opCount - 1), { kind: 'restart-server', hard: rng.chance(0.5) });
  const outages = Math.max(1, Math.round(opCount / 40));
  for (let k = 0; k < outages; k++) {
    const step = rng.int(1, opCount - 2);
    at(step, { kind: 'proxy-offline' });
    at(step + rng.int(1, 5), { kind: 'proxy-online' });
  }
  // The events of PostgreSQL mode come from a generator of their own, so the plan above (and
  // every SQLite seed) stays what it was.
  if (setup.backend === 'postgres') addServerFleetEvents(plan, deriveSeed(seed, 'postgres'), opCount, setup.servers);
  return plan;
}

/**
 * With several processes each server restart becomes a kill -9 of one process and its start
 * 1-4 steps later, never leaving no process up; and PostgreSQL restarts once, down 0.2-3 s.
 */
function addServerFleetEvents(plan: FaultPlan, seed: number, opCount: number, servers: number): void {
  const rng = createRng(seed);
  const { events } = plan;
  const at = (step: number, event: FaultEvent) => {
    const s = Math.min(step, opCount - 1);
    events.set(s, [...(events.get(s) ?? []), event]);
  };
  if (servers > 1) {
    const downUntil = new Array<number>(servers).fill(-1);
    for (const step of [...events.keys()].sort((a, b) => a - b)) {
      const list = events.get(step)!;
      if (!list.some((e) => e.kind === 'restart-server')) continue;
      events.set(step, list.filter((e) => e.kind !== 'restart-server'));
      for (let n = list.filter((e) => e.kind === 'restart-server').length; n > 0; n--) {
        const up = downUntil.map((until, p) => (until < step ? p : -1)).filter((p) => p >= 0);
        // One process always serves: a kill that would leave none is not made.
        if (up.length < 2) continue;
        const victim = up[rng.int(0, up.length - 1)]!;
        const back = Math.min(step + rng.int(1, 4), opCount - 1);
        downUntil[victim] = back;
        at(step, { kind: 'kill-server', process: victim });
        at(back, { kind: 'start-server', process: victim });
      }
    }
  }
  at(rng.int(1, Math.max(1, opCount - 2)), { kind: 'restart-postgres', downMs: rng.int(200, 3000) });
}

export function describeEvent(e: FaultEvent): string {
  switch (e.kind) {
    case 'kill-agent':
      return `kill -9 agent ${e.device}`;
    case 'start-agent':
      return `restart agent ${e.device}`;
    case 'restart-server':
      return `restart server (${e.hard ? 'SIGKILL' : 'SIGTERM'})`;
    case 'kill-server':
      return `kill -9 server process ${e.process}`;
    case 'start-server':
      return `start server process ${e.process}`;
    case 'restart-postgres':
      return `restart PostgreSQL (down ${e.downMs} ms)`;
    case 'proxy-offline':
      return 'proxy offline (connections cut)';
    case 'proxy-online':
      return 'proxy online';
  }
}
