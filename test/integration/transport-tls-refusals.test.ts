import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../main/engine/agent';
import { SyncApiClient } from '../../main/remote';
import { startServer, type RunningServer } from '../../server/main';
import { makeTempDir } from '../helpers/local-temp';
import { testSettings } from '../helpers/agent-settings';
import { makeCertificates, type TestCertificates } from '../helpers/tls-certs';
import { waitFor } from '../helpers/wait';

// Servers over real TLS whose certificates the private CA did sign, but which are refused all the
// same: expired, not valid yet, or for another host. What the client and the agent say is what
// is wrong, and its fix; "give its CA" was wrong advice for them (the CA is given, and right).
describe('transport: a certificate refused for what it is, not for its CA', () => {
  const tmp = makeTempDir('ferry-tls-refusals-');
  let certs: TestCertificates;
  const servers: Partial<Record<'expired' | 'notYetValid' | 'otherHost', RunningServer>> = {};
  let agent: Agent | undefined;

  beforeAll(async () => {
    certs = makeCertificates(tmp.dir);
    for (const which of ['expired', 'notYetValid', 'otherHost'] as const) {
      servers[which] = await startServer({ dataDir: path.join(tmp.dir, which), port: 0, host: '127.0.0.1', tls: { cert: readFileSync(certs[which]), key: readFileSync(certs.key) } });
    }
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    for (const server of Object.values(servers)) await server.close();
    tmp.cleanup();
  });

  const refusal = async (server: RunningServer): Promise<unknown> => {
    const client = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'probe', ca: readFileSync(certs.ca, 'utf8') });
    try {
      return await client.listFolders().then(
        () => 'trusted',
        (error: unknown) => error,
      );
    } finally {
      client.close();
    }
  };

  it('an expired certificate: renew it on the server (or the clock is wrong)', async () => {
    const host = new URL(servers.expired!.url).host;
    expect(await refusal(servers.expired!)).toMatchObject({
      code: 'tls_untrusted',
      retryable: true,
      message: `The certificate of ${host} has expired (CERT_HAS_EXPIRED), or this computer's clock is wrong: renew it on the server`,
    });
  });

  it('a certificate not valid yet: check the clock', async () => {
    const host = new URL(servers.notYetValid!.url).host;
    expect(await refusal(servers.notYetValid!)).toMatchObject({
      code: 'tls_untrusted',
      message: `The certificate of ${host} is not valid yet (CERT_NOT_YET_VALID): check this computer's clock`,
    });
  });

  it("another host's certificate: check the host name of the server's address", async () => {
    const host = new URL(servers.otherHost!.url).host;
    expect(await refusal(servers.otherHost!)).toMatchObject({
      code: 'tls_untrusted',
      message: `The certificate at ${host} is not for 127.0.0.1 (ERR_TLS_CERT_ALTNAME_INVALID): check the host name of the server's address (--server URL, Server URL in settings)`,
    });
  });

  it("the agent's offline reason says the certificate expired, not that a CA is missing", async () => {
    const server = servers.expired!;
    const folder = path.join(tmp.dir, 'folder');
    mkdirSync(folder, { recursive: true });
    agent = await createAgent({
      dataDir: path.join(tmp.dir, 'agent'),
      settings: testSettings(server.url, server.token, [{ localPath: folder, remoteId: 'docs' }], { caFile: certs.ca }),
      saveSettings: () => undefined,
      tokenProtection: 'plaintext',
    });
    await agent.start();
    const status = await waitFor(() => {
      const now = agent!.status();
      return now.state === 'offline' && now.reason ? now : null;
    }, { timeoutMs: 20_000, message: 'the agent offline with a reason' });
    expect(status.reason).toBe(`The certificate of ${new URL(server.url).host} has expired (CERT_HAS_EXPIRED), or this computer's clock is wrong: renew it on the server`);
  });
});
