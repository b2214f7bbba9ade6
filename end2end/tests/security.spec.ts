import { expect, Page, test } from '@playwright/test';
import { failOnPageErrors, open, PASSWORD, signUp, uniqueEmail } from './helpers';

/** Records console messages about the Content-Security-Policy (a blocked script or style). */
function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy|Content-Security-Policy/i.test(msg.text())) seen.push(msg.text());
  });
  return seen;
}

test.beforeEach(async ({ page }) => failOnPageErrors(page));

test('after sign-in a next that browsers would read as another site leads home', async ({ page }) => {
  const email = uniqueEmail('redirect');
  await signUp(page, 'Rita Redirect', email, 'Redirects');
  await expect(page.getByTestId('org-name')).toHaveText('Redirects');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);

  await open(page, '/signin?next=/%09/evil.example');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByTestId('org-name')).toHaveText('Redirects');
  const url = new URL(page.url());
  expect(url.host).toBe(new URL(test.info().project.use.baseURL ?? '').host);
  expect(url.pathname).toBe('/');
});

test('every page hydrates under the Content-Security-Policy, and the password can be changed', async ({ page }) => {
  const violations = cspViolations(page);
  const email = uniqueEmail('csp');
  await signUp(page, 'Cleo Policy', email, 'Policies');
  await expect(page.getByTestId('org-name')).toHaveText('Policies');
  for (const path of ['/', '/members', '/groups', '/scans', '/settings', '/audit', '/profile']) {
    await open(page, path);
  }
  const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Password' }) });
  await panel.getByLabel('Current password').fill(PASSWORD);
  await panel.getByLabel('New password').fill('a much longer passphrase');
  await panel.getByRole('button', { name: 'Change password' }).click();
  await expect(panel.getByRole('status')).toHaveText('Password changed. Your other sessions were signed out.');
  await page.screenshot({ path: 'test-results/profile-password.png', fullPage: true });
  expect(violations).toEqual([]);
});
