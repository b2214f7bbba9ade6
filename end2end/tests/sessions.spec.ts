import { Browser, expect, Page, test } from '@playwright/test';
import { failOnPageErrors, open, PASSWORD, signUp, uniqueEmail } from './helpers';

/** Signs `email` in from a browser of its own (another device, as far as Gatehouse knows). */
async function signInElsewhere(browser: Browser, email: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  failOnPageErrors(page);
  await open(page, '/signin');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByTestId('org-name')).toBeVisible();
  return page;
}

test('Profile → Sessions lists where you are signed in; Sign out and Sign out everywhere else end the others at once', async ({ page, browser }) => {
  failOnPageErrors(page);
  const email = uniqueEmail('sessions');
  await signUp(page, 'Sue Sessions', email, 'Sessions Co');
  await expect(page.getByTestId('org-name')).toHaveText('Sessions Co');
  const other = await signInElsewhere(browser, email);

  await open(page, '/profile');
  const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Sessions' }) });
  const rows = panel.getByRole('table', { name: 'Sessions' }).locator('tbody tr');
  await expect(rows).toHaveCount(2);
  await expect(rows.filter({ hasText: 'This session' })).toHaveCount(1);
  await expect(rows.first()).toContainText('127.0.0.1');
  await page.screenshot({ path: 'test-results/sessions.png', fullPage: true });

  // Sign out the other browser: its next page is the sign-in page.
  await rows.filter({ hasNotText: 'This session' }).getByRole('button', { name: /^Sign out / }).click();
  await expect(rows).toHaveCount(1);
  await open(other, '/members').catch(() => undefined);
  await expect(other).toHaveURL(/\/signin/);

  // Sign out everywhere else.
  const third = await signInElsewhere(browser, email);
  await open(page, '/profile');
  await expect(rows).toHaveCount(2);
  await panel.getByRole('button', { name: 'Sign out everywhere else' }).click();
  await expect(panel.getByRole('status')).toHaveText('Signed out of 1 other session.');
  await expect(rows).toHaveCount(1);
  await expect(panel.getByRole('button', { name: 'Sign out everywhere else' })).toHaveCount(0);
  await open(third, '/members').catch(() => undefined);
  await expect(third).toHaveURL(/\/signin/);
  // This one is still signed in.
  await open(page, '/members');
  await expect(page.getByTestId('org-name')).toHaveText('Sessions Co');
});
