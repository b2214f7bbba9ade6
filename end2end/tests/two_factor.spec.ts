import { expect, Page, test } from '@playwright/test';
import { acceptInNewBrowser, enroll, failOnPageErrors, invite, now, open, PASSWORD, signUp, totp, uniqueEmail } from './helpers';

async function signInWithSecondStep(page: Page, email: string, code: string): Promise<void> {
  await open(page, '/signin');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/\/signin\/two-factor$/);
  await expect(page.getByRole('heading', { name: 'Two-factor authentication' })).toBeVisible();
  await page.getByLabel('Authentication code').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByTestId('org-name')).toBeVisible();
}

async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);
}

test('a user enrolls in 2FA, then signs in with a code and with a recovery code', async ({ page }) => {
  failOnPageErrors(page);
  const email = uniqueEmail('totp');
  await signUp(page, 'Tomas Totp', email, 'Second Factor Inc');
  await expect(page.getByTestId('org-name')).toHaveText('Second Factor Inc');

  const { secret, codes } = await enroll(page);
  await page.screenshot({ path: 'test-results/two-factor-enrolled.png', fullPage: true });
  await page.getByRole('button', { name: 'I have saved them' }).click();
  await expect(page.getByTestId('recovery-codes')).toHaveCount(0);

  await signOut(page);
  // The enrollment used the current step; the next step's code is accepted (t+1) and new.
  await signInWithSecondStep(page, email, totp(secret, now() + 30));
  await expect(page.getByTestId('org-name')).toHaveText('Second Factor Inc');

  await signOut(page);
  await signInWithSecondStep(page, email, codes[0]);
  await open(page, '/profile');
  await expect(page.getByTestId('recovery-left')).toHaveText('9 recovery codes left.');
});

test('an Owner requires 2FA and a member without it is sent to 2FA setup', async ({ page, browser }) => {
  failOnPageErrors(page);
  await signUp(page, 'Olivia Owner', uniqueEmail('policy-owner'), 'Strict Org');
  await expect(page.getByTestId('org-name')).toHaveText('Strict Org');

  // Invite a member, who accepts in another browser.
  const link = await invite(page, 'Max Member', uniqueEmail('policy-member'), 'User');
  const member = await acceptInNewBrowser(browser, link, 'Max Member');

  // Without 2FA of her own, the Owner cannot change the policy.
  await open(page, '/settings');
  await expect(page.getByRole('checkbox', { name: 'Require two-factor authentication' })).toBeDisabled();
  await enroll(page);

  await open(page, '/settings');
  await expect(page.getByTestId('without-count')).toHaveText('1 member without two-factor authentication.');
  await page.getByRole('button', { name: 'Notify' }).click();
  await expect(page.getByText('Notified 1 member.')).toBeVisible();
  await page.getByRole('checkbox', { name: 'Require two-factor authentication' }).check();
  await page.getByLabel('Grace period (days, 0–30)').fill('0');
  // With the keyboard alone: Apply opens the confirmation with focus on its button; Cancel
  // (Shift+Tab… Enter) returns focus to Apply; Enter on Apply opens it again.
  const apply = page.getByRole('button', { name: 'Apply' });
  await apply.focus();
  await page.keyboard.press('Enter');
  const confirmation = page.getByRole('alertdialog');
  await expect(confirmation.getByTestId('impact-summary')).toHaveText('1 member will lose access at once; no API key will be refused.');
  const confirm = confirmation.getByRole('button', { name: 'Require two-factor authentication' });
  await expect(confirm).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(confirmation.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(confirmation).toHaveCount(0);
  await expect(apply).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(confirm).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('policy-status')).toHaveText('Two-factor authentication is required of every member.');
  await page.screenshot({ path: 'test-results/two-factor-policy.png', fullPage: true });

  // The member is sent from the organization's pages to their 2FA setup.
  await open(member, '/members').catch(() => undefined);
  await expect(member).toHaveURL(/\/profile/);
  await expect(member.getByRole('button', { name: 'Enable two-factor authentication' })).toBeVisible();
  await expect(member.getByText('Strict Org requires two-factor authentication.')).toBeVisible();
  // Turning it on opens the organization again at once.
  await enroll(member);
  await open(member, '/members');
  await expect(member.getByRole('cell', { name: 'Max Member' })).toBeVisible();
});

test('an Owner resets the 2FA of a member who lost their phone, and downloads the audit log', async ({ page, browser }) => {
  failOnPageErrors(page);
  await signUp(page, 'Olivia Owner', uniqueEmail('reset-owner'), 'Reset Co');
  await expect(page.getByTestId('org-name')).toHaveText('Reset Co');
  const email = uniqueEmail('lost-phone');
  const link = await invite(page, 'Luke Lost', email, 'User');
  const member = await acceptInNewBrowser(browser, link, 'Luke Lost');
  await enroll(member);

  await open(page, '/members');
  const row = page.getByRole('row', { name: new RegExp(email) });
  await expect(row.getByText('On', { exact: true })).toBeVisible();
  await row.getByRole('button', { name: 'Reset two-factor authentication of Luke Lost' }).click();
  await expect(row.getByText('Off', { exact: true })).toBeVisible();
  await page.screenshot({ path: 'test-results/members-reset-two-factor.png', fullPage: true });
  // The Owner's own row offers no reset.
  await expect(page.getByRole('button', { name: 'Reset two-factor authentication of Olivia Owner' })).toHaveCount(0);

  // The member was signed out; with the password alone they are in, and asked to enroll again.
  await open(member, '/signin');
  await member.getByLabel('Email', { exact: true }).fill(email);
  await member.getByLabel('Password').fill(PASSWORD);
  await member.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(member.getByTestId('two-factor-banner')).toContainText('Reset Co asks you to turn on two-factor authentication');

  // The audit log, downloaded as the page filters it.
  await open(page, '/audit?action=member.two_factor');
  await expect(page.getByRole('cell', { name: 'member.two_factor_reset' })).toBeVisible();
  await page.screenshot({ path: 'test-results/audit-download.png', fullPage: true });
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download CSV' }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^audit-\d+-\d{4}-\d{2}-\d{2}\.csv$/);
  const csv = await (await import('node:fs/promises')).readFile(await download.path(), 'utf8');
  const lines = csv.trim().split('\r\n');
  expect(lines[0]).toBe('id,time,actor,actor_email,action,target,ip,details,org_id,actor_user_id,created_at,seq,hash');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain('member.two_factor_reset');
});
