import { FerryError, type DeviceFailure, type DeviceReport, type DeviceState, type DevicesReply } from '../protocol';
import { folderHeld } from './folders';
import type { SqlDb } from './storage/sql';
import type { FeedTokens } from './tokens';

/** Reports older than this are dropped: a device gone for a month is no longer listed. */
export const DEVICE_REPORT_TTL_MS = 30 * 24 * 3600 * 1000;

interface ReportRow {
  folder_id: string;
  device: string;
  name: string;
  version: string;
  applied_seq: number | null;
  pending: number;
  failed_count: number;
  failures: string;
  reported_at: number;
  signed_out: number | boolean | null;
  folder_error: string | null;
  paused: number | boolean;
  unsyncable_count: number;
  mass_delete_held: number | boolean;
  stopped: number | boolean;
}

/** What the reports sent with one paired credential say about the computer that holds it. */
export interface ReportedDevice {
  /** The agent ids (what `ferry status` and `ferry devices` name a device by) it reported under. */
  agents: string[];
  /** The name its latest report gave: the device's name now, which its pairing's may no longer be. */
  name: string;
}

/** Per paired credential, what its reports say: how an admin tells which computer a credential is. */
export async function reportsByCredential(db: SqlDb): Promise<Map<string, ReportedDevice>> {
  const rows = await db.all<{ paired_device: string; device: string; name: string }>(
    'SELECT paired_device, device, name FROM device_reports WHERE paired_device IS NOT NULL ORDER BY reported_at DESC, device',
  );
  const out = new Map<string, ReportedDevice>();
  for (const r of rows) {
    const seen = out.get(r.paired_device);
    if (!seen) out.set(r.paired_device, { agents: [r.device], name: r.name });
    else if (!seen.agents.includes(r.device)) seen.agents.push(r.device);
  }
  for (const reported of out.values()) reported.agents.sort();
  return out;
}

/**
 * Each device's digest of each folder (docs/sync-api.md, "Devices"). The device's sync token
 * says which changes it applied; what it lacks is every change other devices made after that
 * (its own come back to it as echoes it needs nothing for).
 */
export class DeviceReports {
  constructor(
    private readonly db: SqlDb,
    private readonly tokens: FeedTokens,
    private readonly clock: () => number,
  ) {}

  /**
   * Stores the device's report, replacing its last one. A token the server cannot verify
   * counts as unknown. `pairedDevice` is the credential it came with (null: the server
   * token): a report id first sent by one paired device is that device's, and another
   * credential sending under it is refused (`device_id_taken`), so no device can pose as
   * another, of its own user or of a user sharing the folder. Once that credential is revoked
   * the id is free again: the same computer, paired anew, reports under it.
   *
   * `runStarted` is when the run that sent it started (X-Ferry-Run's stamp, `runStartOf`; null
   * when not known). The row keeps the newest run's: a `stopped` report from an earlier run is
   * a stop cut off at its deadline that landed after the next run reported, and changes nothing
   * (docs/sync-api.md, "Devices"). Returns whether the report was stored.
   */
  async record(folderId: string, device: string, report: DeviceReport, pairedDevice: string | null = null, runStarted: number | null = null): Promise<boolean> {
    let applied: number | null = null;
    if (report.syncToken !== undefined) {
      try {
        applied = this.tokens.verify('token', report.syncToken, folderId).after;
      } catch {
        applied = null;
      }
    }
    return this.db.tx(() => this.write(folderId, device, report, pairedDevice, runStarted, applied));
  }

  private async write(folderId: string, device: string, report: DeviceReport, pairedDevice: string | null, runStarted: number | null, applied: number | null): Promise<boolean> {
    // Removed meanwhile (`ferry server folder remove`): no report is left for a folder gone.
    if (!(await folderHeld(this.db, folderId, 'share'))) throw new FerryError('not_found', `Folder '${folderId}' not found`, { status: 404 });
    const written = await this.db.run(
      `INSERT INTO device_reports (folder_id, device, name, version, applied_seq, pending, failed_count, failures, reported_at, paired_device, folder_error, paused, unsyncable_count, mass_delete_held, stopped, run_started)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (folder_id, device) DO UPDATE SET name = excluded.name, version = excluded.version,
           applied_seq = excluded.applied_seq, pending = excluded.pending, failed_count = excluded.failed_count,
           failures = excluded.failures, reported_at = excluded.reported_at, folder_error = excluded.folder_error, paused = excluded.paused,
           unsyncable_count = excluded.unsyncable_count, mass_delete_held = excluded.mass_delete_held,
           stopped = excluded.stopped,
           run_started = CASE WHEN excluded.run_started IS NULL OR device_reports.run_started > excluded.run_started
             THEN device_reports.run_started ELSE excluded.run_started END,
           paired_device = coalesce(excluded.paired_device, device_reports.paired_device)
         WHERE (device_reports.paired_device IS NULL OR device_reports.paired_device IS NOT DISTINCT FROM excluded.paired_device
             OR device_reports.paired_device IN (SELECT id FROM devices WHERE revoked_at IS NOT NULL))
           AND NOT (excluded.stopped = 1 AND excluded.run_started IS NOT NULL AND device_reports.run_started IS NOT NULL
             AND excluded.run_started < device_reports.run_started)`,
      [folderId, device, report.name, report.version, applied, report.pending, report.failedCount, JSON.stringify(report.failures), this.clock(), pairedDevice, report.folderError ?? null, report.paused ? 1 : 0, report.unsyncableCount ?? 0, report.massDeleteHeld ? 1 : 0, report.stopped ? 1 : 0, runStarted],
    );
    if (written > 0) return true;
    // Not written: a late stop of an earlier run (ignored), or another credential's id (refused).
    const ownId = await this.db.get(
      `SELECT 1 AS own FROM device_reports WHERE folder_id = ? AND device = ?
         AND (paired_device IS NULL OR paired_device IS NOT DISTINCT FROM ? OR paired_device IN (SELECT id FROM devices WHERE revoked_at IS NOT NULL))`,
      [folderId, device, pairedDevice],
    );
    if (ownId && report.stopped && runStarted !== null) return false;
    throw new FerryError('device_id_taken', 'Another paired device reports under this device id', { status: 409 });
  }

  /** What `GET …/devices` answers: the devices, and the clock their `lastSeen` is by. */
  async reply(folderId: string): Promise<DevicesReply> {
    return { devices: await this.list(folderId), serverTime: new Date(this.clock()).toISOString() };
  }

  /** Every device of the folder that reported within the retention, the most recently seen first. */
  async list(folderId: string): Promise<DeviceState[]> {
    // A report sent with a credential since revoked: that device is signed out (found by a new-user
    // try: other devices still showed it "up to date", its unsent change unknown to them). One whose
    // user the folder was unshared from is no device of the folder any more: listed, it read "1
    // change behind", then "not reporting", while it ran (a new-user try).
    const rows = await this.db.all<ReportRow>(
      `SELECT r.folder_id, r.device, r.name, r.version, r.applied_seq, r.pending, r.failed_count, r.failures, r.reported_at, r.folder_error, r.paused, r.unsyncable_count, r.mass_delete_held, r.stopped,
         (d.revoked_at IS NOT NULL) AS signed_out
       FROM device_reports r LEFT JOIN devices d ON d.id = r.paired_device
       WHERE r.folder_id = ? AND r.reported_at >= ?
         AND (r.paired_device IS NULL OR EXISTS (SELECT 1 FROM folder_access a WHERE a.folder_id = r.folder_id AND a.user_id = d.user_id))
       ORDER BY r.reported_at DESC, r.device`,
      [folderId, this.clock() - DEVICE_REPORT_TTL_MS],
    );
    const out: DeviceState[] = [];
    for (const row of rows) {
      // A device's own changes come back to it as echoes it needs nothing for; a restore it asked
      // for is recorded under it too, yet it has not got those bytes until it pulls them. A move
      // is one change, its new path: not again for its old path's tombstone (a new-user try read
      // "14 changes behind" for one folder of 6 files renamed).
      const behind =
        row.applied_seq === null
          ? null
          : Number(
              (
                await this.db.get<{ n: number }>(
                  `SELECT count(*) AS n FROM entries WHERE folder_id = ? AND seq > ? AND (device <> ? OR restored_from IS NOT NULL)
                     AND NOT (deleted = 1 AND path IN (SELECT moved_from FROM entries WHERE folder_id = ? AND seq > ? AND moved_from IS NOT NULL))`,
                  [folderId, row.applied_seq, row.device, folderId, row.applied_seq],
                )
              )?.n ?? 0,
            );
      out.push({
        device: row.device,
        name: row.name,
        version: row.version,
        lastSeen: new Date(row.reported_at).toISOString(),
        behind,
        // Signed out or quit, it syncs nothing: not up to date, whatever it last reported.
        upToDate: behind === 0 && !row.signed_out && !row.stopped,
        pending: row.pending,
        failedCount: row.failed_count,
        failures: JSON.parse(row.failures) as DeviceFailure[],
        signedOut: Boolean(row.signed_out),
        ...(row.folder_error !== null ? { folderError: row.folder_error } : {}),
        ...(row.paused ? { paused: true } : {}),
        ...(row.unsyncable_count > 0 ? { unsyncableCount: Number(row.unsyncable_count) } : {}),
        ...(row.mass_delete_held ? { massDeleteHeld: true } : {}),
        // Quit at `lastSeen` (its last report said so): not running, its figures as they were then.
        ...(row.stopped ? { stopped: true } : {}),
      });
    }
    return out;
  }

  /** Drops reports older than the retention; returns how many. */
  prune(): Promise<number> {
    return this.db.run('DELETE FROM device_reports WHERE reported_at < ?', [this.clock() - DEVICE_REPORT_TTL_MS]);
  }
}
