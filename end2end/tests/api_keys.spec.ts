import { expect, test } from '@playwright/test';
import { failOnPageErrors, open, signUp, uniqueEmail } from './helpers';

test('a user creates an API key, copies it, calls /api/v1/me with it, revokes it, and the next call is 401', async ({ page, context, request }) => {
  failOnPageErrors(page);
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const email = uniqueEmail('keys');
  await signUp(page, 'Kim Keys', email, 'Keys Co');
  await expect(page.getByTestId('org-name')).toHaveText('Keys Co');

  await open(page, '/profile');
  const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Manage your user API keys' }) });
  await panel.getByRole('button', { name: 'New API key' }).click();
  const form = panel.locator('section', { has: page.getByRole('heading', { name: 'New API key' }) });
  // Without a scope, Create explains what is missing next to the scopes.
  await form.getByLabel('Name').fill('CI deploy');
  await form.getByRole('button', { name: 'Create' }).click();
  await expect(form.getByText('Choose at least one scope.')).toBeVisible();
  await form.getByRole('checkbox', { name: 'members:read' }).check();
  await form.getByRole('checkbox', { name: 'groups:write' }).check();
  // No expiry asks for care.
  await form.getByRole('radio', { name: 'No expiry' }).check();
  await expect(form.getByRole('note')).toContainText('works until you revoke it');
  await form.getByRole('radio', { name: '90 days' }).check();
  await form.getByRole('button', { name: 'Create' }).click();

  const shown = panel.getByTestId('new-api-key');
  await expect(shown).toContainText('you will not see it again');
  const key = (await shown.getByTestId('api-key-value').textContent())?.trim() ?? '';
  expect(key).toMatch(/^gth_[0-9A-Za-z]{36}$/);
  await shown.getByRole('button', { name: 'Copy' }).click();
  await expect(shown.getByRole('button', { name: 'Copied' })).toBeVisible();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toBe(key);
  const row = panel.getByRole('row', { name: /CI deploy/ });
  await expect(row).toContainText(key.slice(0, 10));
  await expect(row).toContainText('members:read, groups:write');
  await page.screenshot({ path: 'test-results/api-keys.png', fullPage: true });

  // The key works from a script.
  const me = await request.get('/api/v1/me', { headers: { Authorization: `Bearer ${copied}` } });
  expect(me.status(), await me.text()).toBe(200);
  const body = await me.json();
  expect(body.email).toBe(email.toLowerCase());
  expect(body.scopes).toEqual(['members:read', 'groups:write']);

  // Revoke in the browser, with the keyboard alone: Revoke opens a confirmation with focus on
  // its button; Cancel gives the focus back to Revoke; confirming revokes and focuses the news.
  const revoke = row.getByRole('button', { name: 'Revoke CI deploy' });
  await revoke.focus();
  await page.keyboard.press('Enter');
  const confirmation = row.getByRole('alertdialog');
  await expect(confirmation).toContainText('Revoke CI deploy? Scripts using it are refused');
  await expect(confirmation.getByRole('button', { name: 'Revoke key' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(confirmation.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(confirmation).toHaveCount(0);
  await expect(revoke).toBeFocused();
  // Still usable: cancelling revoked nothing.
  const still = await request.get('/api/v1/me', { headers: { Authorization: `Bearer ${copied}` } });
  expect(still.status(), await still.text()).toBe(200);
  await page.keyboard.press('Enter');
  await expect(confirmation.getByRole('button', { name: 'Revoke key' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(row).toContainText('Revoked');
  const news = panel.getByRole('status').filter({ hasText: 'API key revoked.' });
  await expect(news).toBeVisible();
  await expect(news).toBeFocused();
  const after = await request.get('/api/v1/me', { headers: { Authorization: `Bearer ${copied}` } });
  expect(after.status(), await after.text()).toBe(401);
  expect((await after.json()).code).toBe('api_key_revoked');
  expect(after.headers()['content-type']).toBe('application/problem+json');
});
