import { expect, test } from '@playwright/test';
import { failOnPageErrors, open, PASSWORD, signUp, uniqueEmail } from './helpers';

test.beforeEach(async ({ page }) => failOnPageErrors(page));

test('sign up, sign out, sign in, and see the organization', async ({ page }) => {
  const email = uniqueEmail('ada');
  await signUp(page, 'Ada Lovelace', email, 'Analytical Engines');

  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('org-name')).toHaveText('Analytical Engines');
  await expect(page.getByRole('heading', { level: 1, name: 'Analytical Engines' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Members' }).first()).toBeVisible();
  await expect(page.getByRole('link', { name: 'Organization settings' }).first()).toBeVisible();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();

  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByTestId('org-name')).toHaveText('Analytical Engines');

  await page.getByRole('link', { name: 'Members' }).first().click();
  await expect(page.getByRole('heading', { name: 'Members' })).toBeVisible();
  await expect(page.getByRole('cell', { name: email })).toBeVisible();
  await page.screenshot({ path: 'test-results/members.png', fullPage: true });
});

test('a wrong password shows the error and keeps the visitor signed out', async ({ page }) => {
  const email = uniqueEmail('grace');
  await signUp(page, 'Grace Hopper', email, 'Compilers');
  await expect(page.getByTestId('org-name')).toHaveText('Compilers');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);

  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill('not my password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('alert')).toHaveText('Email or password is incorrect.');
  await expect(page).toHaveURL(/\/signin$/);
  await page.screenshot({ path: 'test-results/signin-error.png', fullPage: true });
});

test('bad input is explained next to its field', async ({ page }) => {
  await open(page, '/signup');
  await page.getByLabel('Name', { exact: true }).fill('Short Password');
  await page.getByLabel('Email', { exact: true }).fill(uniqueEmail('short'));
  await page.getByLabel('Password').fill('1234567');
  await page.getByLabel('Organization name').fill('Org');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.locator('#field-password-error')).toHaveText('Use at least 8 characters.');
  await expect(page.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
});

test('an unknown address shows the 404 page', async ({ page }) => {
  const response = await page.goto('/no-such-page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});
