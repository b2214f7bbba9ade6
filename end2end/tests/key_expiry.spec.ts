import { expect, Page, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { failOnPageErrors, open, signUp, uniqueEmail } from './helpers';

const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 3100);

/**
 * Makes the key named `name` 23 days older, as if made 23 days ago with 30 days to live: its
 * 7-day warning is due. The server's SQLite file (start-server.sh) takes the write beside the
 * running server, as the operator CLI's do.
 */
function ageKey(name: string): void {
  const db = path.join(__dirname, '..', '.tmp', String(port), 'data', 'gatehouse.db');
  const update = [
    'import sqlite3, sys',
    'c = sqlite3.connect(sys.argv[1], timeout=10)',
    'n = c.execute("UPDATE api_keys SET created_at = created_at - 1987200, expires_at = expires_at - 1987200 WHERE name = ?", (sys.argv[2],)).rowcount',
    'c.commit()',
    'sys.exit(0 if n == 1 else f"{n} keys named {sys.argv[2]!r} in {sys.argv[1]}")',
  ].join('\n');
  execFileSync('python3', ['-c', update, db, name], { stdio: 'pipe' });
}

/** Profile → New API key with one scope and the default 30 days, then 23 of them pass. */
async function createKeyAboutToExpire(page: Page, name: string): Promise<void> {
  const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Manage your user API keys' }) });
  await panel.getByRole('button', { name: 'New API key' }).click();
  const form = panel.locator('section', { has: page.getByRole('heading', { name: 'New API key' }) });
  await form.getByLabel('Name').fill(name);
  await form.getByRole('checkbox', { name: 'members:read' }).check();
  await form.getByRole('button', { name: 'Create' }).click();
  await expect(panel.getByTestId('new-api-key')).toBeVisible();
  ageKey(name);
}

/** The background worker (every second on the test server) leaves the warning; the next page shows it. */
async function waitForBanner(page: Page): Promise<void> {
  await expect(async () => {
    await open(page, '/profile');
    await expect(page.getByTestId('key-expiry-banner')).toBeVisible({ timeout: 500 });
  }).toPass({ timeout: 15_000 });
}

test('a key about to expire warns on every page; Dismiss and Revoke take the warning away without rebuilding the page', async ({ page }) => {
  failOnPageErrors(page);
  await signUp(page, 'Wes Warned', uniqueEmail('expiry'), 'Expiry Co');
  await expect(page.getByTestId('org-name')).toHaveText('Expiry Co');
  await open(page, '/profile');
  const weekly = `Weekly ${Date.now()}`;
  await createKeyAboutToExpire(page, weekly);

  await waitForBanner(page);
  const banner = page.getByTestId('key-expiry-banner');
  await expect(banner).toContainText(/An API key of yours expires in [67] days; scripts that use it will then be refused/);
  await page.screenshot({ path: 'test-results/key-expiry-banner.png' });
  const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Manage your user API keys' }) });
  await expect(panel.getByRole('row', { name: new RegExp(weekly) })).toContainText(/expires in [67] days/);
  // Every page shows it, with a way to the keys.
  await open(page, '/');
  await expect(banner).toBeVisible();
  await banner.getByRole('link', { name: 'Review your API keys' }).click();
  await expect(page).toHaveURL(/\/profile#api-keys/);

  // Dismiss: the banner goes, and what was typed on the page stays.
  await panel.getByRole('button', { name: 'New API key' }).click();
  const name = panel.getByLabel('Name');
  await name.fill('half typed');
  await banner.getByRole('button', { name: 'Dismiss' }).click();
  await expect(banner).toHaveCount(0);
  await expect(name).toHaveValue('half typed');
  await open(page, '/profile');
  await expect(banner).toHaveCount(0);

  // A second key warns again; revoking it takes the warning away at once.
  const second = `Second ${Date.now()}`;
  await createKeyAboutToExpire(page, second);
  await waitForBanner(page);
  const row = panel.getByRole('row', { name: new RegExp(second) });
  await row.getByRole('button', { name: `Revoke ${second}` }).click();
  await row.getByRole('button', { name: 'Revoke key' }).click();
  await expect(panel.getByText('API key revoked.')).toBeVisible();
  await expect(banner).toHaveCount(0);
  await open(page, '/profile');
  await expect(banner).toHaveCount(0);
});
