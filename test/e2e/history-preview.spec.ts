import { expect } from '@playwright/test';
import type { Locator, Page } from '@playwright/test';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { rigTest as test, type Rig } from './support/agent-rig';

/**
 * History's View: what a past version holds, shown under the list before it is restored. The
 * renderer in Chromium against the real headless agent and the real reference server (see
 * agent-rig.ts), as in agent-ui.spec.ts.
 */
const root = path.resolve(import.meta.dirname, '../..');
const screenshots = path.join(root, 'docs/screenshots');


const row = (page: Page, file: string): Locator => page.locator(`[data-testid="queue-row"][data-path="${file}"]`);

/** Writes the bytes into the folder and waits until the server holds them as the file's newest version. */
async function saved(rig: Rig, file: string, content: string | Buffer): Promise<void> {
  const bytes = Buffer.from(content);
  writeFileSync(path.join(rig.folder('docs'), file), bytes);
  await expect.poll(async () => (await rig.remote.files('docs')).get(file)?.size, { message: `${file} on the server`, timeout: 20_000 }).toBe(bytes.length);
}

test("History's View shows what an older version holds, the start of a long one, and says a binary one is binary", async ({ page, startRig }) => {
  const rig = await startRig();
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.goto(rig.loginUrl());
  await expect(page.getByTestId('folder-card').first()).toBeVisible();
  await page.getByTestId('nav-queue').click();
  await expect(page.getByTestId('queue-list')).toBeVisible();

  const draft = 'Meeting notes, 3 March\n\n- ship the preview\n- ask Ann about the budget\n- café at 10:00\n';
  await saved(rig, 'notes.txt', draft);
  await saved(rig, 'notes.txt', 'Meeting notes, 3 March\n\n(rewritten since)\n');
  const long = `${'A long log line of the first version, kept for the preview.\n'.repeat(2000)}`;
  await saved(rig, 'log.txt', long);
  await saved(rig, 'log.txt', 'short now\n');
  const binary = Buffer.alloc(2_100_000, 1);
  binary[10] = 0;
  await saved(rig, 'photo.raw', binary);
  await saved(rig, 'photo.raw', 'replaced by text\n');

  // The older version of notes.txt: its text, under the list, with its number.
  await expect(row(page, 'notes.txt')).toHaveAttribute('data-state', 'done');
  await row(page, 'notes.txt').getByTestId('history-open').click();
  await expect(page.getByTestId('history-row')).toHaveCount(2);
  const older = await page.getByTestId('history-row').nth(1).getAttribute('data-revision');
  const newer = await page.getByTestId('history-row').nth(0).getAttribute('data-revision');
  // Every live file version has View; only the older one Restore.
  await expect(page.getByTestId('history-view')).toHaveCount(2);
  await expect(page.getByTestId('history-restore')).toHaveCount(1);
  await page.getByTestId('history-row').nth(1).getByTestId('history-view').click();
  await expect(page.getByTestId('history-preview')).toHaveAttribute('data-revision', older!);
  await expect(page.getByTestId('history-preview')).toContainText(`Version #${older}`);
  await expect.poll(() => page.getByTestId('history-preview-text').textContent()).toBe(draft);
  await expect(page.getByTestId('history-preview-note')).toHaveCount(0);
  await expect(page.getByTestId('history-row').nth(1).getByTestId('history-view')).toHaveAttribute('aria-pressed', 'true');
  await page.screenshot({ path: path.join(screenshots, 'history-preview.png') });

  // Another version's View replaces it; Close takes it away.
  await page.getByTestId('history-row').nth(0).getByTestId('history-view').click();
  await expect(page.getByTestId('history-preview')).toHaveAttribute('data-revision', newer!);
  await expect(page.getByTestId('history-preview-text')).toContainText('(rewritten since)');
  await expect(page.getByTestId('history-preview')).toHaveCount(1);
  await page.getByTestId('history-preview-close').click();
  await expect(page.getByTestId('history-preview')).toHaveCount(0);

  // Another file's History: the preview was of notes.txt, and goes.
  await page.getByTestId('history-row').nth(1).getByTestId('history-view').click();
  await expect(page.getByTestId('history-preview-text')).toBeVisible();
  await row(page, 'log.txt').getByTestId('history-open').click();
  await expect(page.getByTestId('history-panel')).toContainText('History of log.txt');
  await expect(page.getByTestId('history-preview')).toHaveCount(0);

  // A version over 64 KiB: its beginning, and how much of it that is.
  await page.getByTestId('history-row').nth(1).getByTestId('history-view').click();
  await expect(page.getByTestId('history-preview-note')).toHaveText('The first 64 KiB of 120 KB: restore it to see the rest.');
  const shown = await page.getByTestId('history-preview-text').evaluate((el) => el.textContent ?? '');
  expect(shown).toBe(long.slice(0, 64 * 1024));
  // Scrolled in place, not as tall as its text.
  const box = await page.getByTestId('history-preview-text').boundingBox();
  expect(box!.height).toBeLessThan(400);

  // A binary version: said, not shown.
  await row(page, 'photo.raw').getByTestId('history-open').click();
  await expect(page.getByTestId('history-panel')).toContainText('History of photo.raw');
  await page.getByTestId('history-row').nth(1).getByTestId('history-view').click();
  await expect(page.getByTestId('history-preview-note')).toHaveText('A binary file of 2.1 MB: restore it, or open it after restoring.');
  await expect(page.getByTestId('history-preview-text')).toHaveCount(0);
});

// A new-user try: the History of a file renamed since its last edit listed only the rename, with
// no way to the versions before it. Its "moved from" opens the old name's versions, whose Restore
// brings one back under the name now.
test('History of a renamed file opens the versions it had under its old name, and restores one under its name now', async ({ page, startRig }) => {
  const rig = await startRig();
  await page.goto(rig.loginUrl());
  await expect(page.getByTestId('folder-card').first()).toBeVisible();
  await page.getByTestId('nav-queue').click();
  await expect(page.getByTestId('queue-list')).toBeVisible();
  await saved(rig, 'draft.txt', 'the first words\n');
  await saved(rig, 'draft.txt', 'the second words, longer\n');
  renameSync(path.join(rig.folder('docs'), 'draft.txt'), path.join(rig.folder('docs'), 'final.txt'));
  await expect.poll(async () => (await rig.remote.files('docs')).has('final.txt'), { message: 'the rename on the server', timeout: 20_000 }).toBe(true);

  await expect(row(page, 'final.txt')).toHaveAttribute('data-state', 'done');
  await row(page, 'final.txt').getByTestId('history-open').click();
  await expect(page.getByTestId('history-panel')).toContainText('History of final.txt');
  await expect(page.getByTestId('history-row')).toHaveCount(1);
  await page.getByTestId('history-moved-from').click();
  await expect(page.getByTestId('history-panel')).toContainText('History of draft.txt');
  await expect(page.getByTestId('history-moved-note')).toHaveText('Moved to final.txt: a version restored here comes back there.');
  // The move's tombstone and the two versions; the first words' one restores.
  await expect(page.getByTestId('history-row')).toHaveCount(3);
  const first = page.getByTestId('history-row').nth(2);
  await first.getByTestId('history-restore').click();
  await page.getByTestId('history-confirm-restore').click();
  // Said where it comes back: under the name now (a new-user try read "comes back here").
  await expect(page.getByTestId('history-restored')).toContainText('restored as final.txt; it comes back here with the next pull.');
  await expect.poll(() => readFileSync(path.join(rig.folder('docs'), 'final.txt'), 'utf8'), { message: 'the first words back in final.txt', timeout: 20_000 }).toBe('the first words\n');
  expect(existsSync(path.join(rig.folder('docs'), 'draft.txt'))).toBe(false);
  // And back to the name asked about.
  await page.getByTestId('history-back').click();
  await expect(page.getByTestId('history-panel')).toContainText('History of final.txt');
});
