import { expect, test } from '@playwright/test';
import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { acceptInNewBrowser, createApiKey, failOnPageErrors, invite, open, pickMember, signUp, uniqueEmail } from './helpers';

let runner: ChildProcess | undefined;
test.afterEach(() => runner?.kill());

test('a User starts a scan in their group and sees it queued, then running when the simulated runner claims it', async ({ page, browser, baseURL }) => {
  failOnPageErrors(page);
  await signUp(page, 'Olga Owner', uniqueEmail('scans-owner'), 'Scan Co');
  await expect(page.getByTestId('org-name')).toHaveText('Scan Co');
  const link = await invite(page, 'Uma User', uniqueEmail('uma'), 'User');
  const uma = await acceptInNewBrowser(browser, link, 'Uma User');

  // The Owner puts Uma in a group with a limit of one running scan.
  await open(page, '/groups');
  await page.getByRole('button', { name: 'New group' }).click();
  const form = page.locator('section', { has: page.getByRole('heading', { name: 'New group' }) });
  await form.getByLabel('Name', { exact: true }).fill('Scanners');
  await form.getByLabel('Concurrent scans limit').fill('1');
  await pickMember(page, 'um', 'Uma User');
  await form.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/\/groups\/\d+$/);

  // Uma starts a scan: queued.
  await open(uma, '/scans');
  await uma.getByRole('button', { name: 'New scan' }).click();
  const newScan = uma.locator('section', { has: uma.getByRole('heading', { name: 'New scan' }) });
  await newScan.getByLabel('Target URL').fill('ftp://files.example.com');
  await newScan.getByRole('button', { name: 'Start scan' }).click();
  await expect(newScan.getByText('The target must start with https://')).toBeVisible();
  await newScan.getByLabel('Target URL').fill('https://app.example.com');
  await expect(newScan.getByLabel('Group')).toHaveValue(/\d+/);
  await newScan.getByRole('button', { name: 'Start scan' }).click();
  const row = uma.getByRole('row', { name: /app\.example\.com/ });
  await expect(row.getByTestId('scan-status')).toHaveText('queued');

  // A runner with the Owner's key claims it; Uma's page shows it running.
  const key = await createApiKey(page, 'runner', ['scans:write']);
  const binary = path.resolve(__dirname, '../../target/release/gatehouse');
  runner = spawn(binary, [
    'runner', '--api-url', baseURL ?? '', '--api-key', key, '--simulate',
    '--runners', '1', '--min-ms', '60000', '--max-ms', '60000',
  ], { stdio: 'inherit' });
  await expect(row.getByTestId('scan-status')).toHaveText('running', { timeout: 15_000 });
  await expect(row).toContainText('Uma User');
  await uma.screenshot({ path: 'test-results/scans.png', fullPage: true });
});
