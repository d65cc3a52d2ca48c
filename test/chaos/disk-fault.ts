import { rmSync } from 'node:fs';
import path from 'node:path';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs';
import type { FaultEvent } from './faults';
import { createRng, deriveSeed } from './rng';
import type { Op } from './workload';

/**
 * The full-disk fault (issue 21): each device's folder and data directory (state database,
 * logs) live on a small tmpfs of their own, and at chosen steps a filler file takes every byte
 * left on one device's disk; some steps later it is removed again. Meanwhile the agent meets
 * ENOSPC and SQLITE_FULL in its pulls and scans, and must hold: nothing partial, nothing lost,
 * syncing by itself once the space is back (docs/conflict-rules.md, "Full disks").
 *
 * Its own random stream (derived from the seed with the label "disk"), so a seed's workload
 * and other faults are the same with it or without it. Off unless asked for (`--disk-full`).
 */
export type DiskEvent = { kind: 'disk-full'; device: number } | { kind: 'disk-freed'; device: number };

/** Room for a seed's files, the state database and logs, with the filler taking what is left. */
const DISK_BYTES = 96 * 1024 * 1024;

export interface DiskPlan {
  events: Map<number, DiskEvent[]>;
}

/**
 * About one full disk per 30 steps (at least one), each 2 to 8 steps long, never while that
 * device's agent is down (a start on a full disk is a different test: the agent must start).
 */
export function makeDiskPlan(seed: number, devices: number, opCount: number, faults: ReadonlyMap<number, FaultEvent[]>): DiskPlan {
  const rng = createRng(deriveSeed(seed, 'disk'));
  const events = new Map<number, DiskEvent[]>();
  if (opCount < 6) return { events };
  const down: Array<Array<[number, number]>> = Array.from({ length: devices }, () => []);
  const killedAt = new Map<number, number>();
  for (const step of [...faults.keys()].sort((a, b) => a - b)) {
    for (const e of faults.get(step)!) {
      if (e.kind === 'kill-agent') killedAt.set(e.device, step);
      if (e.kind === 'start-agent') down[e.device]!.push([killedAt.get(e.device) ?? 0, step]);
    }
  }
  const busy: Array<Array<[number, number]>> = down.map((d) => [...d]);
  const overlaps = (ranges: Array<[number, number]>, from: number, to: number) => ranges.some(([a, b]) => from <= b && a <= to);
  const windows = Math.max(1, Math.round(opCount / 30));
  for (let k = 0; k < windows; k++) {
    const device = rng.int(0, devices - 1);
    const from = rng.int(1, opCount - 3);
    const to = Math.min(opCount - 1, from + rng.int(2, 8));
    if (overlaps(busy[device]!, from, to)) continue;
    busy[device]!.push([from, to]);
    const at = (step: number, event: DiskEvent) => events.set(step, [...(events.get(step) ?? []), event]);
    at(from, { kind: 'disk-full', device });
    at(to, { kind: 'disk-freed', device });
  }
  return { events };
}

export function describeDiskEvent(e: DiskEvent): string {
  return e.kind === 'disk-full' ? `fill the disk of agent ${e.device}` : `free the disk of agent ${e.device}`;
}

/** One tmpfs per device, and which of them are full now. */
export class DeviceDisks {
  private readonly mounts: Tmpfs[];
  private readonly fillers = new Map<number, string>();
  fills = 0;

  constructor(dir: string, deviceNames: readonly string[]) {
    this.mounts = [];
    try {
      for (const name of deviceNames) this.mounts.push(mountTmpfs(path.join(dir, `${name}-disk`), DISK_BYTES));
    } catch (error) {
      this.unmount();
      throw error;
    }
  }

  /** Where a device's folder and data directory go (the cluster's device home). */
  home(index: number): string {
    return this.mounts[index]!.dir;
  }

  apply(e: DiskEvent): void {
    if (e.kind === 'disk-full') {
      if (this.fillers.has(e.device)) return;
      this.fillers.set(e.device, this.mounts[e.device]!.fill('.chaos-filler'));
      this.fills++;
    } else {
      this.free(e.device);
    }
  }

  /**
   * The op as the user can still make it: a full disk takes no new bytes, so writes there
   * (an editor's save fails) are not made; deletes, renames and new folders are. Null: nothing left.
   */
  allow(op: Op): Op | null {
    if (this.fillers.size === 0) return op;
    if (op.kind === 'burst') {
      const writes = op.writes.filter((w) => !this.fillers.has(w.device));
      return writes.length ? { ...op, writes } : null;
    }
    const writes = op.kind === 'write' || op.kind === 'append' || op.kind === 'truncate';
    return writes && this.fillers.has(op.device) ? null : op;
  }

  /** Every disk has room again (before the settle). */
  freeAll(): void {
    for (const device of [...this.fillers.keys()]) this.free(device);
  }

  unmount(): void {
    this.fillers.clear();
    for (const m of this.mounts.splice(0)) m.unmount();
  }

  private free(device: number): void {
    const filler = this.fillers.get(device);
    this.fillers.delete(device);
    if (filler) rmSync(filler, { force: true });
  }
}
