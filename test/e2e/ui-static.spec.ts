import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { build } from 'esbuild';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startControlServer } from '../../main/control/control-server';
import type { ControlServer } from '../../main/control/control-server';
import { createFakeAgent, makeQueueItems } from '../fakes/control-fake-agent';
import type { FakeAgent } from '../fakes/control-fake-agent';

/**
 * The renderer in Chromium against the real control server, with the fake agent service
 * behind it: sign-in by login link, the live queue at 100,000 items, actions, settings.
 */
const root = path.resolve(import.meta.dirname, '../..');
const TOKEN = 'e'.repeat(64);
const QUEUE_SIZE = 100_000;

let agent: FakeAgent;
let server: ControlServer;
let rendererDir: string;

test.beforeAll(async () => {
  // Bundle the renderer from source into a private directory (dist/ belongs to the build).
  rendererDir = mkdtempSync(path.join(os.tmpdir(), 'ferry-ui-'));
  await build({
    absWorkingDir: root,
    entryPoints: ['renderer/main.tsx'],
    outfile: path.join(rendererDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120'],
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'styles.css']) copyFileSync(path.join(root, 'renderer', file), path.join(rendererDir, file));
  agent = createFakeAgent({ items: makeQueueItems(QUEUE_SIZE, { failedEvery: 7 }), now: () => new Date('2025-01-02T03:10:00Z') });
  agent.pauseForMassDelete('photos', 1200, 1500);
  server = await startControlServer({ service: agent, token: TOKEN, rendererDir });
});

test.afterAll(async () => {
  await server?.close();
  rmSync(rendererDir, { recursive: true, force: true });
});

async function signIn(page: Page): Promise<void> {
  await page.setViewportSize({ width: 1200, height: 820 });
  await page.goto(server.createLoginUrl());
  await expect(page.getByTestId('folder-card').first()).toBeVisible();
  // The single-use code is gone from the address bar (and so from history).
  expect(page.url()).not.toContain('login=');
  expect(page.url()).toBe(`${server.url}/#/folders`);
  await page.getByTestId('nav-queue').click();
  await expect(page.getByTestId('queue-list')).toBeVisible();
}

const failedCount = () => agent.queue.filter((item) => item.state === 'failed').length;

test('the queue shows live rows and counters, and Retry all updates rows through events', async ({ page }) => {
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  await signIn(page);

  const rows = page.getByTestId('queue-row');
  await expect(rows.first()).toHaveAttribute('data-path', agent.queue[0]!.path);
  // Virtualised: a handful of rows in the DOM for 100,000 items.
  expect(await rows.count()).toBeLessThan(60);
  await expect(page.getByTestId('queue-list')).toHaveAttribute('data-count', String(QUEUE_SIZE));

  const failedBefore = failedCount();
  await expect(page.getByTestId('counter-failed')).toHaveAttribute('data-count', String(failedBefore));
  await expect(page.getByTestId('counter-failed')).toContainText(failedBefore.toLocaleString('en'));
  await expect(page.getByTestId('counter-done')).toHaveAttribute('data-count', String(agent.queue.filter((item) => item.state === 'done').length));
  await expect(page.getByTestId('mass-delete-banner')).toContainText('1,200 of 1,500 files');

  const failedRow = page.locator('[data-testid="queue-row"][data-path="dir-0/file-7.txt"]');
  await expect(failedRow).toHaveAttribute('data-state', 'failed');
  await expect(failedRow).toContainText('server unavailable (503)');
  // The README's screenshots come from the real agent (agent-ui.spec.ts); this one stays with the run.
  await page.screenshot({ path: test.info().outputPath('queue.png') });

  // Scrolling far down loads that page by offset.
  await page.getByTestId('queue-list').evaluate((list) => (list.scrollTop = 60 * 90_000));
  await expect(page.locator('[data-testid="queue-row"][data-path="dir-900/file-90001.txt"]')).toBeVisible();
  await page.getByTestId('queue-list').evaluate((list) => (list.scrollTop = 0));

  await page.getByTestId('retry-all').click();
  await expect(failedRow).toHaveAttribute('data-state', 'pending');
  expect(agent.calls.some((call) => call.method === 'retry' && JSON.stringify(call.input) === '{"all":true}')).toBe(true);
  expect(failedCount()).toBe(0);
  await expect(page.getByTestId('counter-failed')).toHaveAttribute('data-count', '0');
  await expect(page.getByTestId('retry-all')).toBeDisabled();

  await page.getByTestId('mass-delete-confirm').click();
  await expect(page.getByTestId('mass-delete-banner')).toHaveCount(0);
  expect(agent.calls.some((call) => call.method === 'confirmMassDelete')).toBe(true);
  expect(consoleErrors).toEqual([]);
});

test('filters by state, and pauses and resumes', async ({ page }) => {
  await signIn(page);
  agent.queue[2]!.state = 'failed';
  agent.emit({ type: 'queue', items: [{ ...agent.queue[2]! }] });
  await page.getByTestId('counter-in_flight').click();
  await expect(page.getByTestId('queue-row').first()).toHaveAttribute('data-state', 'in_flight');
  const states = await page.getByTestId('queue-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-state')));
  expect(new Set(states)).toEqual(new Set(['in_flight']));

  await page.getByTestId('pause').click();
  await expect(page.getByTestId('resume')).toBeVisible();
  expect(agent.paused).toBe(true);
  await page.getByTestId('resume').click();
  await expect(page.getByTestId('pause')).toBeVisible();
  expect(agent.paused).toBe(false);
});

test('settings show inline errors from the schema and from the agent, then save', async ({ page }) => {
  await signIn(page);
  await page.getByTestId('nav-settings').click();
  await expect(page).toHaveURL(/#\/settings$/);

  await page.getByTestId('field-serverUrl').fill('ftp://files.example.com');
  await page.getByTestId('field-folders.0.remoteId').fill('bad id!');
  await page.getByTestId('settings-save').click();
  await expect(page.getByTestId('field-error-serverUrl')).toHaveText('enter an http:// or https:// URL');
  await expect(page.getByTestId('field-error-folders.0.remoteId')).toContainText('letters, digits');
  await expect(page.getByTestId('field-folders.0.remoteId')).toHaveAttribute('aria-invalid', 'true');
  expect(agent.calls.some((call) => call.method === 'updateSettings')).toBe(false);

  // What only the agent can judge comes back as invalid_settings fields, shown in place.
  await page.getByTestId('field-serverUrl').fill('https://sync.example.com');
  await page.getByTestId('field-folders.0.remoteId').fill('documents');
  await page.getByTestId('field-folders.0.localPath').fill('relative/dir');
  await page.getByTestId('settings-save').click();
  await expect(page.getByTestId('field-error-folders.0.localPath')).toHaveText('use an absolute path');
  await expect(page.getByTestId('field-error-serverUrl')).toHaveCount(0);

  await page.getByTestId('field-folders.0.localPath').fill('/home/ada/Documents');
  await page.getByTestId('add-folder').click();
  await page.getByTestId('field-folders.2.localPath').fill('/home/ada/Music');
  await page.getByTestId('field-folders.2.remoteId').fill('music');
  await page.getByTestId('field-concurrency').fill('8');
  await page.getByTestId('settings-save').click();
  await expect(page.getByTestId('settings-notice')).toHaveText('Settings saved and applied.');
  await expect(page.locator('[data-testid^="field-error-"]')).toHaveCount(0);
  const saved = await agent.handlers.getSettings({});
  expect(saved.serverUrl).toBe('https://sync.example.com');
  expect(saved.concurrency).toBe(8);
  expect(saved.folders).toEqual([
    { localPath: '/home/ada/Documents', remoteId: 'documents' },
    { localPath: '/home/ada/Pictures', remoteId: 'photos-2024' },
    { localPath: '/home/ada/Music', remoteId: 'music' },
  ]);
  // The form scrolls inside its view: make the window tall enough to show all of it.
  await page.setViewportSize({ width: 1200, height: 1260 });
  await page.locator('form.settings-view').evaluate((form) => form.scrollTo(0, 0));
  await page.screenshot({ path: test.info().outputPath('settings.png') });
});

test('without a login code the page asks for the control token', async ({ page }) => {
  await page.goto(`${server.url}/#/activity`);
  // A link works once: the page says how to get a new one, not to open the used start-up link again.
  await expect(page.getByRole('form', { name: 'Sign in to the Ferry agent' })).toContainText('for a new one run ferry ui on this computer');
  await page.getByTestId('signin-token').fill('f'.repeat(64));
  await page.getByTestId('signin-submit').click();
  await expect(page.getByRole('alert')).toHaveText('That token was not accepted.');
  await page.getByTestId('signin-token').fill(TOKEN);
  await page.getByTestId('signin-submit').click();
  await expect(page.getByRole('list', { name: 'Recent activity' })).toBeVisible();
  // A sync started elsewhere (tray, CLI) shows up live.
  await agent.handlers.syncNow({ folderId: 'docs' });
  await expect(page.getByTestId('activity-row').first()).toContainText('sync requested for docs');
});

// A new-user try: every new tab had to sign in again with a fresh `ferry ui` link.
test('a new tab of a signed-in page is signed in too; another browser profile is not', async ({ page, context, browser }) => {
  await signIn(page);
  const second = await context.newPage();
  await second.goto(`${server.url}/#/activity`);
  await expect(second.getByRole('list', { name: 'Recent activity' })).toBeVisible();
  // Closed, the first tab answers no one; the second keeps its own sign-in and answers a third.
  await page.close();
  const third = await context.newPage();
  await third.goto(`${server.url}/#/folders`);
  await expect(third.getByTestId('folder-card').first()).toBeVisible();
  const elsewhere = await browser.newContext();
  try {
    const stranger = await elsewhere.newPage();
    await stranger.goto(`${server.url}/#/activity`);
    await expect(stranger.getByRole('form', { name: 'Sign in to the Ferry agent' })).toBeVisible();
  } finally {
    await elsewhere.close();
  }
});

test('a used login link no longer signs in', async ({ page }) => {
  const link = server.createLoginUrl();
  const code = new URL(link).hash.slice('#login='.length);
  const first = await page.request.post(`${server.url}/api/session`, { data: { code } });
  expect(first.status()).toBe(200);
  await page.goto(link);
  await expect(page.getByRole('alert')).toContainText('invalid, already used or expired');
  expect(page.url()).not.toContain(code);
});
