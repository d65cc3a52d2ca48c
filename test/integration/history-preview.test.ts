import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as history from '../../main/control/commands/history';
import { startControlServer, type ControlServer } from '../../main/control/control-server';
import { ensureControlToken, writeAgentInfo } from '../../main/control/control-token';
import type { Agent } from '../../main/engine/agent';
import { SyncApiClient } from '../../main/remote';
import { invokeContractMethod } from '../../main/ui-adapter/call';
import { toAgentService } from '../../main/ui-adapter/agent-service';
import { BLOCK_SIZE, type HistoryItem } from '../../protocol';
import { startServer, type RunningServer } from '../../server/main';
import type { ContractHandlers, VersionPreview } from '../../shared/ui-contract';
import { FaultProxy } from '../fakes/fault-proxy';
import { startTestAgent } from '../helpers/agent-settings';
import { captureIo } from '../helpers/agents-on-server';
import { makeTempDir } from '../helpers/local-temp';
import { waitFor } from '../helpers/wait';

// History's View (docs/sync-api.md, "History and restore", revision=R): a real agent on the real
// server over loopback, through a proxy that counts the block reads, asked through the UI
// contract for what past versions hold.
describe('a past version previewed before it is restored', () => {
  const tmp = makeTempDir('ferry-history-preview-');
  const folder = path.join(tmp.dir, 'Docs');
  let server: RunningServer;
  let proxy: FaultProxy;
  let agent: Agent;
  let observer: SyncApiClient;
  let handlers: ContractHandlers;
  let control: ControlServer;
  const data = path.join(tmp.dir, 'agent');

  const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
  /** The server's content hash of these bytes: SHA-256 over the hashes of its 4 MiB blocks. */
  const contentHash = (data: Buffer) => {
    const h = createHash('sha256');
    for (let at = 0; at < data.length; at += BLOCK_SIZE) h.update(sha(data.subarray(at, at + BLOCK_SIZE)));
    return h.digest('hex');
  };
  const versions = async (rel: string): Promise<HistoryItem[]> => (await observer.historyPage('docs', { path: rel })).items;
  /** Writes the bytes here and waits for the server to have them: their revision. */
  const write = async (rel: string, content: string | Buffer): Promise<string> => {
    const data = Buffer.from(content);
    writeFileSync(path.join(folder, rel), data);
    const newest = await waitFor(
      async () => {
        const [top] = await versions(rel);
        return top !== undefined && !top.deleted && top.contentHash === contentHash(data) ? top : undefined;
      },
      { timeoutMs: 30_000, message: `${rel} on the server` },
    );
    return newest.revision;
  };
  const preview = async (rel: string, revision: string) => {
    const outcome = await invokeContractMethod(handlers, 'previewVersion', { folderId: 'docs', path: rel, revision });
    return outcome.result;
  };
  const shown = async (rel: string, revision: string): Promise<VersionPreview> => {
    const result = await preview(rel, revision);
    if (!result.ok) throw new Error(`preview refused: ${result.error.code}: ${result.error.message}`);
    return result.value as VersionPreview;
  };
  const refusal = async (rel: string, revision: string) => {
    const result = await preview(rel, revision);
    if (result.ok) throw new Error(`preview of ${rel} #${revision} was not refused`);
    return result.error;
  };
  /** The block reads that went through the proxy since `seq`: each GET's hash, each batch fetch. */
  const blockReadsSince = (seq: number) => ({
    gets: proxy.requests({ method: 'GET', path: /^\/v1\/blocks\// }).filter((r) => r.seq > seq).map((r) => r.path.slice('/v1/blocks/'.length)),
    batches: proxy.requests({ method: 'POST', path: '/v1/blocks/fetch' }).filter((r) => r.seq > seq).length,
  });
  const lastSeq = () => proxy.log.at(-1)?.seq ?? 0;

  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(tmp.dir, 'server'), port: 0 });
    proxy = await FaultProxy.start({ target: server.url });
    observer = new SyncApiClient({ baseUrl: server.url, token: server.token, deviceId: 'observer' });
    mkdirSync(folder);
    agent = await startTestAgent(data, { url: proxy.url, token: server.token }, [{ localPath: folder, remoteId: 'docs' }]);
    handlers = toAgentService(agent).handlers;
    control = await startControlServer({ service: toAgentService(agent), token: await ensureControlToken(data) });
    await writeAgentInfo(data, { pid: process.pid, controlUrl: control.url, startedAt: new Date().toISOString() });
  }, 30_000);

  afterAll(async () => {
    await control?.close();
    await agent?.stop();
    observer?.close();
    await proxy?.close();
    await server?.close();
    tmp.cleanup();
  });

  it('shows an older text version as it was written, whole', async () => {
    const first = 'First draft\nwith a second line, and ünïcode ✓\n';
    const r1 = await write('notes.txt', first);
    await write('notes.txt', 'the current version\n');
    expect(await shown('notes.txt', r1)).toEqual({ revision: r1, size: Buffer.byteLength(first), shownBytes: Buffer.byteLength(first), truncated: false, text: first });
  });

  it('reads only the first block of a version over 64 KiB, and shows its first 64 KiB, a character cut at the end left out', async () => {
    // 'a' then two-byte characters: the one at bytes 65535-65536 straddles the 64 KiB cut. Over
    // 4 MiB, the version is two blocks; the second is never read.
    const big = Buffer.from(`a${'é'.repeat(2_200_000)}`);
    expect(big.length).toBeGreaterThan(BLOCK_SIZE);
    const r1 = await write('big.txt', big);
    await write('big.txt', 'small now');
    const [old] = (await versions('big.txt')).filter((v) => v.revision === r1);
    expect(old?.size).toBe(big.length);
    const before = lastSeq();
    const result = await shown('big.txt', r1);
    expect(result).toMatchObject({ revision: r1, size: big.length, shownBytes: 65_535, truncated: true });
    expect(result.text).toBe(big.subarray(0, 65_535).toString('utf8'));
    const reads = blockReadsSince(before);
    expect(reads).toEqual({ gets: [sha(big.subarray(0, BLOCK_SIZE))], batches: 0 });
  });

  it('says a binary version is binary, and one that is not UTF-8 too; the bytes are checked all the same', async () => {
    const binary = Buffer.alloc(3000, 7);
    binary[100] = 0;
    const r1 = await write('image.bin', binary);
    const latin1 = Buffer.from('caf\xe9 cr\xe8me', 'latin1');
    const r2 = await write('image.bin', latin1);
    await write('image.bin', 'replaced');
    const before = lastSeq();
    expect(await shown('image.bin', r1)).toEqual({ revision: r1, size: 3000, shownBytes: 0, truncated: false, text: null });
    expect(await shown('image.bin', r2)).toEqual({ revision: r2, size: latin1.length, shownBytes: 0, truncated: false, text: null });
    // Small blocks go as a pull's do: in a batch fetch.
    expect(blockReadsSince(before).batches).toBe(2);
  });

  it('refuses a deletion, a folder, an unknown revision and another path\'s, each with its code, not retryable', async () => {
    const r1 = await write('gone.txt', 'soon deleted');
    rmSync(path.join(folder, 'gone.txt'));
    const deletion = await waitFor(async () => {
      const [top] = await versions('gone.txt');
      return top?.deleted ? top.revision : undefined;
    }, { timeoutMs: 15_000, message: 'the deletion on the server' });
    expect(await refusal('gone.txt', deletion)).toMatchObject({ code: 'version_deleted', retryable: false, message: `Version #${deletion} of gone.txt is a deletion: it has no content to show` });
    // Its version before the deletion still shows.
    expect((await shown('gone.txt', r1)).text).toBe('soon deleted');

    mkdirSync(path.join(folder, 'sub'));
    const dir = await waitFor(async () => (await versions('sub'))[0]?.revision, { timeoutMs: 15_000, message: 'the folder on the server' });
    expect(await refusal('sub', dir)).toMatchObject({ code: 'version_is_folder', retryable: false });

    expect(await refusal('gone.txt', '999999')).toMatchObject({ code: 'unknown_revision', retryable: false });
    const other = (await versions('notes.txt'))[0]!.revision;
    expect(await refusal('gone.txt', other)).toMatchObject({ code: 'unknown_revision', retryable: false });
    expect(await refusal('gone.txt', 'HEAD')).toMatchObject({ code: 'invalid_input' });
  });

  // A new-user try: `ferry history NEW --show R` refused a revision of the file's name before a
  // rename ("does not exist"), which `ferry restore NEW --revision R` took.
  it('shows a revision of an earlier name of the file, found back through its renames', async () => {
    const r1 = await write('before.txt', 'written under the first name');
    await write('before.txt', 'edited under the first name');
    renameSync(path.join(folder, 'before.txt'), path.join(folder, 'middle.txt'));
    await waitFor(async () => (await versions('before.txt'))[0]?.movedTo === 'middle.txt', { timeoutMs: 30_000, message: 'the first rename' });
    renameSync(path.join(folder, 'middle.txt'), path.join(folder, 'after.txt'));
    await waitFor(async () => (await versions('middle.txt'))[0]?.movedTo === 'after.txt', { timeoutMs: 30_000, message: 'the second rename' });
    expect((await shown('after.txt', r1)).text).toBe('written under the first name');
    // A revision of no name of the file is still unknown.
    expect(await refusal('after.txt', '999999')).toMatchObject({ code: 'unknown_revision' });
  });

  it('says a server before the extension cannot show a version, whichever way it answers', async () => {
    const r1 = await write('old-server.txt', 'on an old server');
    // The reference server before it: the unknown query key refused.
    const refuse = proxy.add({
      method: 'GET',
      path: '/v1/folders/docs/history',
      query: /revision=/,
      action: { kind: 'status', status: 400, code: 'invalid_request', message: 'Invalid query: Unrecognized key: "revision"' },
    });
    expect(await refusal('old-server.txt', r1)).toMatchObject({ code: 'preview_unsupported', retryable: false, message: expect.stringContaining("This server cannot show a version's content") });
    refuse();
    // A server that ignores the key: the listing, without blocks.
    const listing = await observer.historyPage('docs', { path: 'old-server.txt' });
    const ignore = proxy.add({ method: 'GET', path: '/v1/folders/docs/history', query: /revision=/, action: { kind: 'status', status: 200, body: listing } });
    expect(await refusal('old-server.txt', r1)).toMatchObject({ code: 'preview_unsupported', retryable: false });
    ignore();
    expect((await shown('old-server.txt', r1)).text).toBe('on an old server');
  });

  it('refuses a reply that answers another version, or blocks that are not the version\'s', async () => {
    const r1 = await write('odd.txt', 'the real bytes');
    const r2 = await write('odd.txt', 'other bytes');
    const [v2, v1] = await versions('odd.txt');
    const answer = (item: object) => proxy.add({ method: 'GET', path: '/v1/folders/docs/history', query: /revision=/, action: { kind: 'status', status: 200, body: { items: [item], _links: {} } } });
    // Asked for r1, answered r2.
    let undo = answer({ ...v2, blocks: [sha('other bytes')] });
    expect(await refusal('odd.txt', r1)).toMatchObject({ code: 'malformed_reply', message: expect.stringContaining(`history of revision ${r1}`) });
    undo();
    // r1 with r2's block: not what r1's fingerprint names.
    undo = answer({ ...v1, blocks: [sha('other bytes')] });
    expect(await refusal('odd.txt', r1)).toMatchObject({ code: 'malformed_reply', message: expect.stringContaining('not the ones its content fingerprint names') });
    undo();
    // Without a fingerprint, blocks that hold another size.
    const { contentHash: _drop, ...bare } = v1!;
    undo = answer({ ...bare, blocks: [sha('other bytes')] });
    expect(await refusal('odd.txt', r1)).toMatchObject({ code: 'malformed_reply', message: expect.stringContaining(`its blocks hold 11 bytes, not its 14`) });
    undo();
    expect((await shown('odd.txt', r2)).text).toBe('other bytes');
  });

  it('ferry history PATH --show REV prints the version\'s text, says what it left out, and refuses a binary one', async () => {
    const run = async (args: string[]) => {
      const io = captureIo();
      const code = await history.run([...args, '--data', data], io);
      return { code, out: io.stdout, err: io.stderr };
    };
    const first = 'line one\nline two\n';
    const r1 = await write('cli.txt', first);
    const r2 = await write('cli.txt', `${'x'.repeat(99)}\n`.repeat(1000));
    const r3 = await write('cli.txt', Buffer.from([1, 2, 0, 3]));
    await write('cli.txt', 'now');

    const whole = await run(['cli.txt', '--show', r1]);
    expect(whole).toEqual({ code: 0, out: first + '\n', err: '' });
    const cut = await run([path.join(folder, 'cli.txt'), '--show', r2]);
    expect(cut.code, cut.err).toBe(0);
    expect(cut.out).toBe(`${`${'x'.repeat(99)}\n`.repeat(1000).slice(0, 64 * 1024)}\n`);
    expect(cut.err).toBe(`The first 64 KiB of 100.0 KB: restore it to see the rest.\nRestore it with: ferry restore cli.txt --revision ${r2} --folder docs\n`);
    const binary = await run(['cli.txt', '--show', r3]);
    expect(binary).toEqual({
      code: 1,
      out: '',
      err: `ferry history: version ${r3} of cli.txt is not text. A binary file of 4 B: restore it, or open it after restoring.\nRestore it with: ferry restore cli.txt --revision ${r3} --folder docs\n`,
    });
    // Windows line ends read as line ends (found by review: a made-visible \r ended every line).
    const crlf = await write('crlf.txt', 'one\r\ntwo\r\n');
    await write('crlf.txt', 'later');
    expect(await run(['crlf.txt', '--show', crlf])).toEqual({ code: 0, out: 'one\ntwo\n\n', err: '' });
    const json = await run(['cli.txt', '--show', r1, '--json']);
    expect(JSON.parse(json.out)).toEqual({ folderId: 'docs', path: 'cli.txt', revision: r1, size: first.length, shownBytes: first.length, truncated: false, text: first });
    // Refusals: each with its code, as every command says them.
    const deleted = await run(['gone.txt', '--show', (await versions('gone.txt'))[0]!.revision]);
    expect(deleted.code).toBe(1);
    expect(deleted.err).toContain('is a deletion: it has no content to show (version_deleted)');
    const usage = await run(['cli.txt', '--show', 'latest']);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('--show takes a revision number from the list (ferry history cli.txt), not "latest"');
  });
});
