import { Browser, expect, Page } from '@playwright/test';

export const PASSWORD = 'correct horse battery staple';

/** A unique email per test run, so tests never collide in the shared database. */
export function uniqueEmail(name: string): string {
  return `${name}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Fails the test on any uncaught page error (a wasm that fails to start shows only there). */
export function failOnPageErrors(page: Page): void {
  page.on('pageerror', (err) => {
    throw new Error(`page error: ${err.message}`);
  });
}

/** Opens `path` and waits until the wasm has hydrated the page: clicks before that do nothing. */
export async function open(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

export async function signUp(page: Page, name: string, email: string, org: string): Promise<void> {
  await open(page, '/signup');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Organization name').fill(org);
  await page.getByRole('button', { name: 'Sign up' }).click();
}

/** Members → New user → Name, Email, Role → Invite; returns the link shown to copy. */
export async function invite(page: Page, name: string, email: string, role: string): Promise<string> {
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

/** Opens the link in a new browser context and accepts as a new user; returns that page. */
export async function acceptInNewBrowser(browser: Browser, link: string, name: string): Promise<Page> {
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
