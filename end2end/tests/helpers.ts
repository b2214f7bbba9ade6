import { Browser, expect, Page } from '@playwright/test';

export const PASSWORD = 'correct horse battery staple';

/** A unique email per test run, so tests never collide in the shared database. */
export function uniqueEmail(name: string): string {
  return `${name}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/**
 * Fails the test on any uncaught page error (a wasm that fails to start shows only there).
 * A wasm panic surfaces as "unreachable"; its message went to the console just before, so
 * the error carries the page's recent console errors and its address.
 */
export function failOnPageErrors(page: Page): void {
  const consoleErrors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      consoleErrors.push(msg.text());
      if (consoleErrors.length > 10) consoleErrors.shift();
    }
  });
  page.on('pageerror', (err) => {
    const context = consoleErrors.length ? `\nconsole errors before it:\n${consoleErrors.join('\n')}` : '';
    throw new Error(`page error on ${page.url()}: ${err.message}${context}\n${err.stack ?? ''}`);
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

/** Picks a member in a group form's type-ahead by typing part of their name. */
export async function pickMember(page: Page, typed: string, name: string): Promise<void> {
  await page.getByRole('searchbox', { name: /Add (members|a member)/ }).fill(typed);
  await page.getByRole('option', { name: new RegExp(`^${name} <`) }).click();
}

/** Profile → New API key with `scopes` → Create; returns the key shown once. */
export async function createApiKey(page: Page, name: string, scopes: string[]): Promise<string> {
  await open(page, '/profile');
  const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Manage your user API keys' }) });
  await panel.getByRole('button', { name: 'New API key' }).click();
  const form = panel.locator('section', { has: page.getByRole('heading', { name: 'New API key' }) });
  await form.getByLabel('Name').fill(name);
  for (const scope of scopes) await form.getByRole('checkbox', { name: scope }).check();
  await form.getByRole('button', { name: 'Create' }).click();
  const key = (await panel.getByTestId('api-key-value').textContent())?.trim() ?? '';
  expect(key).toMatch(/^gth_[0-9A-Za-z]{36}$/);
  return key;
}
