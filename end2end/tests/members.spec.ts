import { expect, test } from '@playwright/test';
import { acceptInNewBrowser, failOnPageErrors, invite, open, signUp, uniqueEmail } from './helpers';

test('an Admin invites a Team Leader, who accepts in another browser and appears with that role', async ({ page, browser }) => {
  failOnPageErrors(page);
  await signUp(page, 'Olivia Owner', uniqueEmail('owner'), 'Acme Security');
  await expect(page.getByTestId('org-name')).toHaveText('Acme Security');

  const adminLink = await invite(page, 'Adam Admin', uniqueEmail('admin'), 'Admin');
  const admin = await acceptInNewBrowser(browser, adminLink, 'Adam Admin');
  await expect(admin.getByTestId('org-name')).toHaveText('Acme Security');

  const leaderEmail = uniqueEmail('leader');
  const leaderLink = await invite(admin, 'Tess Leader', leaderEmail, 'Team Leader');
  const leader = await acceptInNewBrowser(browser, leaderLink, 'Tess Leader');
  await expect(leader.getByTestId('org-name')).toHaveText('Acme Security');

  await open(admin, '/members');
  const row = admin.getByRole('row', { name: new RegExp(leaderEmail) });
  await expect(row.getByRole('combobox', { name: 'Role of Tess Leader' })).toHaveValue('team_leader');
  await admin.screenshot({ path: 'test-results/members-admin.png', fullPage: true });

  // The Team Leader sees the members but cannot manage them.
  await open(leader, '/members');
  await expect(leader.getByRole('cell', { name: leaderEmail })).toBeVisible();
  await expect(leader.getByRole('button', { name: 'New user' })).toHaveCount(0);
});

test('a Billing Manager sees Billing but not Members', async ({ page, browser }) => {
  failOnPageErrors(page);
  await signUp(page, 'Olivia Owner', uniqueEmail('owner2'), 'Billing Co');
  await expect(page.getByTestId('org-name')).toHaveText('Billing Co');
  const link = await invite(page, 'Bill Manager', uniqueEmail('billing'), 'Billing Manager');
  const billing = await acceptInNewBrowser(browser, link, 'Bill Manager');

  await expect(billing.getByRole('link', { name: 'Members' })).toHaveCount(0);
  await billing.getByRole('link', { name: 'Organization settings', exact: true }).click();
  await expect(billing.getByRole('heading', { name: 'Billing' })).toBeVisible();
  await billing.getByLabel('Seats').fill('25');
  await billing.getByRole('button', { name: 'Save billing' }).click();
  await expect(billing.getByRole('status')).toHaveText('Billing saved.');
  await expect(billing.getByText(/of 25 seats in use/)).toBeVisible();
  await billing.screenshot({ path: 'test-results/billing.png', fullPage: true });

  await open(billing, '/members');
  await expect(billing.getByRole('alert')).toContainText('does not include seeing the members');
});
