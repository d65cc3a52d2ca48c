import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appUrl, isAppUrl } from '../../main/app/origin';
import { createAppRequestHandler, registerAppScheme, resolveAppRequest } from '../../main/app/protocol';

const root = path.resolve('/srv/ferry/dist/renderer');

describe('resolving ferry://app requests', () => {
  it('maps the page and assets into dist/renderer with their content types', () => {
    expect(resolveAppRequest('ferry://app/', root)).toEqual({ ok: true, file: path.join(root, 'index.html'), contentType: 'text/html; charset=utf-8' });
    expect(resolveAppRequest('ferry://app/index.html#/queue', root)).toMatchObject({ ok: true, file: path.join(root, 'index.html') });
    expect(resolveAppRequest('ferry://app/app.js', root)).toMatchObject({ ok: true, contentType: 'text/javascript; charset=utf-8' });
    expect(resolveAppRequest('ferry://app/styles.css?v=2', root)).toMatchObject({ ok: true, file: path.join(root, 'styles.css'), contentType: 'text/css; charset=utf-8' });
    expect(resolveAppRequest('ferry://app/img/logo%20big.png', root)).toMatchObject({ ok: true, file: path.join(root, 'img', 'logo big.png'), contentType: 'image/png' });
  });

  it.each([
    'ferry://app/..%2f..%2fetc%2fpasswd',
    'ferry://app/%2e%2e/%2e%2e/etc/passwd',
    'ferry://app/img/..%2F..%2F..%2Fsecret.json',
    'ferry://app/..%5c..%5cwindows%5cwin.ini',
    'ferry://app/.env',
    'ferry://app/a/.git/config.txt',
    'ferry://app/index.html%00.png',
    'ferry://app/%E0%A4%A',
  ])('refuses %s', (url) => {
    const resolved = resolveAppRequest(url, root);
    expect(resolved.ok).toBe(false);
    if (resolved.ok) expect(resolved.file.startsWith(root + path.sep)).toBe(true);
  });

  it('refuses other origins and unknown file types', () => {
    expect(resolveAppRequest('ferry://evil/index.html', root)).toEqual({ ok: false, status: 403 });
    expect(resolveAppRequest('file:///srv/ferry/dist/renderer/index.html', root)).toEqual({ ok: false, status: 403 });
    expect(resolveAppRequest('ferry://app/run.exe', root)).toEqual({ ok: false, status: 404 });
  });

  it('builds window URLs on our origin', () => {
    expect(appUrl('settings')).toBe('ferry://app/index.html#/settings');
    expect(isAppUrl(appUrl('queue'))).toBe(true);
    expect(isAppUrl('ferry://app:8080/')).toBe(false);
  });
});

describe('protocol handler', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-protocol-'));
  const dist = path.join(dir, 'renderer');
  mkdirSync(dist);
  writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>Ferry</title>');
  writeFileSync(path.join(dir, 'secret.json'), '{"token":"x"}');
  const handle = createAppRequestHandler(dist);

  it('serves files with CSP and nosniff', async () => {
    const response = await handle(new Request('ferry://app/index.html'));
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<title>Ferry</title>');
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    // corsEnabled is on for module scripts; no other origin may read our files.
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers 404 for missing files and refuses reads outside root', async () => {
    expect((await handle(new Request('ferry://app/missing.js'))).status).toBe(404);
    const escape = await handle(new Request('ferry://app/..%2fsecret.json'));
    expect(escape.status).toBe(403);
    expect(await escape.text()).not.toContain('token');
  });

  it('only answers GET and HEAD', async () => {
    expect((await handle(new Request('ferry://app/index.html', { method: 'POST', body: 'x' }))).status).toBe(405);
    const head = await handle(new Request('ferry://app/index.html', { method: 'HEAD' }));
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('registers the scheme as standard and secure', () => {
    const registered: unknown[] = [];
    registerAppScheme({ registerSchemesAsPrivileged: (schemes) => registered.push(...schemes) });
    expect(registered).toEqual([{ scheme: 'ferry', privileges: expect.objectContaining({ standard: true, secure: true }) }]);
  });
});
