import { expect, test } from '@playwright/test';
import { failOnPageErrors, open, PASSWORD, signUp, uniqueEmail } from './helpers';

// The second server (playwright.config.ts, one port above the first) asks to confirm access 8
// seconds after signing in.
const reauthPort = Number(process.env.GATEHOUSE_E2E_PORT ?? 3100) + 1;
const REAUTH_WINDOW_MS = 8_000;
test.use({ baseURL: `http://127.0.0.1:${reauthPort}` });

test('Confirm access with the keyboard alone: the prompt takes focus, and one Shift+Tab from it resubmits the form', async ({ page }) => {
  test.setTimeout(60_000);
  failOnPageErrors(page);
  await signUp(page, 'Cora Confirm', uniqueEmail('confirm'), 'Confirm Co');
  await expect(page.getByTestId('org-name')).toHaveText('Confirm Co');
  // Let the sign-in grow older than the window.
  await page.waitForTimeout(REAUTH_WINDOW_MS + 1_000);

  await open(page, '/profile');
  const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Manage your user API keys' }) });
  await panel.getByRole('button', { name: 'New API key' }).click();
  const form = panel.locator('section', { has: page.getByRole('heading', { name: 'New API key' }) });
  await form.getByLabel('Name').fill('Nightly');
  await form.getByRole('checkbox', { name: 'members:read' }).check();
  await form.getByRole('button', { name: 'Create' }).click();

  const prompt = form.getByRole('group', { name: 'Confirm access' });
  const password = prompt.getByLabel('Password');
  await expect(password).toBeFocused();
  // A wrong password keeps the prompt and the focus.
  await page.keyboard.type('not my password');
  await page.keyboard.press('Enter');
  await expect(prompt.getByText('That is not your password.')).toBeVisible();
  await expect(password).toBeFocused();
  await password.fill('');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  const confirmed = prompt.getByRole('status');
  await expect(confirmed).toHaveText('Confirmed. Submit the form above again to continue.');
  await expect(confirmed).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(form.getByRole('button', { name: 'Create' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(panel.getByTestId('new-api-key')).toContainText('you will not see it again');
  await expect(panel.getByRole('row', { name: /Nightly/ })).toBeVisible();
});
