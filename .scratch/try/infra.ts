import { startEmbeddedPostgres, startS3rver } from '../../test/helpers/backends-setup';
const pg = await startEmbeddedPostgres();
const s3 = await startS3rver();
console.log(`PG=${pg.url}`);
console.log(`S3=${s3.endpoint}`);
process.on('SIGTERM', async () => { await pg.stop(); await s3.stop(); process.exit(0); });
setInterval(() => undefined, 1 << 30);
