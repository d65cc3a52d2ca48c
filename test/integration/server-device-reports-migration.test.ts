import Database from 'better-sqlite3';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeviceReports } from '../../server/device-reports';
import { MIGRATIONS, migrate } from '../../server/storage/db';
import { SqliteDb } from '../../server/storage/sql';
import { FeedTokens } from '../../server/tokens';
import { makeTempDir } from '../helpers/server-harness';

// A device whose agent was quit says so in its last report (docs/sync-api.md, "Devices"): a
// server database from before it gets the column, its reports reading as running devices.
describe('server migration 15 (a device quit)', () => {
  it('keeps the reports written before it, running, and keeps a report saying it stopped after it', async () => {
    const dir = await makeTempDir('ferry-server-mig-stopped-');
    const raw = new Database(path.join(dir, 'server.db'));
    try {
      for (const sql of MIGRATIONS.slice(0, 14)) raw.exec(sql);
      raw.pragma('user_version = 14');
      raw
        .prepare("INSERT INTO device_reports (folder_id, device, name, version, applied_seq, pending, failed_count, failures, reported_at) VALUES ('f', 'dev-1', 'laptop', 'ferry/old', NULL, 0, 0, '[]', ?)")
        .run(Date.now());
      expect(migrate(raw)).toBe(MIGRATIONS.length);
      // A report is of a folder the server has (one removed meanwhile takes none).
      raw.prepare("INSERT INTO folders (id, created_at) VALUES ('f', ?)").run(Date.now());
      const clock = () => Date.now();
      const reports = new DeviceReports(new SqliteDb(raw), new FeedTokens('secret'), clock);
      const [before] = await reports.list('f');
      expect(before).toMatchObject({ device: 'dev-1', name: 'laptop' });
      expect(before!.stopped).toBeUndefined();
      await reports.record('f', 'dev-1', { name: 'laptop', version: 'ferry/new', pending: 0, failedCount: 0, failures: [], stopped: true });
      expect((await reports.list('f'))[0]).toMatchObject({ stopped: true, upToDate: false });
    } finally {
      raw.close();
    }
  });
});

// A late stop of an earlier run is ignored (docs/sync-api.md, "Devices"): a report stored before
// the server kept the run's start has none, so nothing is compared with it.
describe('server migration 17 (the newest run of a device report)', () => {
  it('keeps the reports written before it, whose next stop marks them from any run, then compares runs', async () => {
    const dir = await makeTempDir('ferry-server-mig-run-');
    const raw = new Database(path.join(dir, 'server.db'));
    try {
      for (const sql of MIGRATIONS.slice(0, 16)) raw.exec(sql);
      raw.pragma('user_version = 16');
      raw
        .prepare("INSERT INTO device_reports (folder_id, device, name, version, applied_seq, pending, failed_count, failures, reported_at) VALUES ('f', 'dev-1', 'laptop', 'ferry/old', NULL, 0, 0, '[]', ?)")
        .run(Date.now());
      expect(migrate(raw)).toBe(MIGRATIONS.length);
      raw.prepare("INSERT INTO folders (id, created_at) VALUES ('f', ?)").run(Date.now());
      const reports = new DeviceReports(new SqliteDb(raw), new FeedTokens('secret'), () => Date.now());
      const report = { name: 'laptop', version: 'ferry/new', pending: 0, failedCount: 0, failures: [] };
      const runA = Date.parse('2030-01-01T10:00:00Z');
      const runB = Date.parse('2030-01-01T10:05:00Z');
      expect(await reports.record('f', 'dev-1', { ...report, stopped: true }, null, runA)).toBe(true);
      expect((await reports.list('f'))[0]).toMatchObject({ stopped: true });
      expect(await reports.record('f', 'dev-1', report, null, runB)).toBe(true);
      expect(await reports.record('f', 'dev-1', { ...report, stopped: true }, null, runA)).toBe(false);
      expect((await reports.list('f'))[0]!.stopped).toBeUndefined();
    } finally {
      raw.close();
    }
  });
});
