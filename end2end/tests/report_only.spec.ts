import { expect, test } from '@playwright/test';
import { acceptInNewBrowser, createApiKey, enroll, failOnPageErrors, invite, open, signUp, uniqueEmail } from './helpers';

// An Owner sees whom Require two-factor authentication would block, tries it in report-only
// mode first, watches what it would have refused (also after reloading the page, which
// hydrates the running trial's panel), and stops the trial with nothing refused.
test('an Owner previews Require 2FA, runs it report-only, and sees what it would have refused', async ({ page, browser, request }) => {
  failOnPageErrors(page);
  await signUp(page, 'Olivia Owner', uniqueEmail('trial-owner'), 'Trial Org');
  await expect(page.getByTestId('org-name')).toHaveText('Trial Org');
  const link = await invite(page, 'Max Member', uniqueEmail('trial-member'), 'User');
  const member = await acceptInNewBrowser(browser, link, 'Max Member');
  const key = await createApiKey(member, 'nightly deploy', ['members:read']);
  const me = async () => {
    const resp = await request.get('/api/v1/me', { headers: { Authorization: `Bearer ${key}` } });
    return { status: resp.status(), body: await resp.text() };
  };
  expect(await me()).toMatchObject({ status: 200 });
  await enroll(page);

  // The preview names the member and the key the policy would refuse.
  await open(page, '/settings');
  await page.getByRole('checkbox', { name: 'Require two-factor authentication' }).check();
  await page.getByLabel('Grace period (days, 0–30)').fill('0');
  await page.getByRole('button', { name: 'Apply' }).click();
  const confirmation = page.getByRole('alertdialog');
  await expect(confirmation.getByTestId('impact-summary')).toHaveText('1 member will lose access at once, and 1 API key will be refused.');
  await expect(confirmation.getByRole('table', { name: 'API keys it refuses' }).getByRole('row', { name: /nightly deploy/ })).toBeVisible();

  // Report only instead of applying it.
  const trial = page.getByTestId('report-only-two_factor');
  await trial.getByLabel('Report only for (days, 1–30)').fill('3');
  await trial.getByRole('button', { name: 'Report only', exact: true }).click();
  await expect(trial.getByTestId('trial-status')).toContainText('Report only: Require two-factor authentication, until');

  // Nothing is refused: the member's pages open and the key answers.
  await open(member, '/members');
  await expect(member).toHaveURL(/\/members$/);
  expect(await me()).toMatchObject({ status: 200 });

  // Reloaded (server-rendered, then hydrated), the panel counts the would-be refusals,
  // which are written within about a second.
  await expect(async () => {
    await open(page, '/settings');
    const status = page.getByTestId('report-only-two_factor').getByTestId('trial-status');
    await expect(status.getByTestId('trial-counts')).toHaveText(/^\d+ requests would have been refused, of 1 member\.$/, { timeout: 1_000 });
    const refused = status.getByRole('table', { name: 'Requests it would have refused' });
    await expect(refused.getByRole('row', { name: /API key “nightly deploy”/ })).toBeVisible({ timeout: 1_000 });
    await expect(refused.getByRole('row', { name: /signed in/ })).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await page.screenshot({ path: 'test-results/report-only.png', fullPage: true });

  // Each member and key that would have been refused is in the audit log once.
  await open(page, '/audit?action=policy.would_deny');
  await expect(page.getByRole('cell', { name: 'policy.would_deny' })).toHaveCount(2);

  // Stopping it ends the trial; the policy was never applied.
  await open(page, '/settings');
  const status = page.getByTestId('report-only-two_factor').getByTestId('trial-status');
  await status.getByRole('button', { name: 'Stop report only' }).click();
  await expect(status).toContainText('Report only ended: Require two-factor authentication,');
  await expect(page.getByTestId('policy-status')).toHaveText('Members may sign in with a password alone.');
  expect(await me()).toMatchObject({ status: 200 });
});
