import { Browser, expect, Page, test } from '@playwright/test';
import { failOnPageErrors, open, PASSWORD, signUp, uniqueEmail } from './helpers';

/** Members → New user → Name, Email, Role → Invite; returns the link shown to copy. */
async function invite(page: Page, name: string, email: string, role: string): Promise<string> {
  await open(page, '/members');
  await page.getByRole('button', { name: 'New user' }).click();
  const form = page.locator('section', { has: page.getByRole('heading', { name: 'New user' }) });
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('Email', { exact: true }).fill(email);
  await form.getByRole('radio', { name: new RegExp(`^${role} —`) }).check();
  await form.getByRole('button', { name: 'Invite' }).click();
  const link = page.getByLabel('Invitation link');
  await expect(link).toBeVisible();
  return link.inputValue();
}

/** Opens the link in a new browser context and accepts as a new user. */
async function acceptInNewBrowser(browser: Browser, link: string, name: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  failOnPageErrors(page);
  await open(page, new URL(link).pathname);
  await expect(page.getByLabel('Email')).toHaveAttribute('readonly', '');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Accept invitation' }).click();
  await expect(page.getByTestId('org-name')).toBeVisible();
  return page;
}

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
