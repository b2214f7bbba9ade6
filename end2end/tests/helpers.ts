import { Browser, expect, Page } from '@playwright/test';
import { createHmac } from 'node:crypto';

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
  page.on('console', async (msg) => {
    if (msg.type() === 'error') {
      const at = consoleErrors.push(msg.text()) - 1;
      if (consoleErrors.length > 10) consoleErrors.shift();
      // A hydration error logs the node it found: name it, or the message says only "JSHandle@node".
      const node = msg.args()[1];
      if (node) {
        const html = await node
          .evaluate((n: Node) => (n instanceof Element ? n.outerHTML : `${n.nodeName} ${n.textContent ?? ''}`).slice(0, 600))
          .catch(() => undefined);
        if (html && consoleErrors[at] !== undefined) consoleErrors[at] += `\n  the node: ${html}`;
      }
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
  await page.getByLabel('Email', { exact: true }).fill(email);
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
  await expect(page.getByLabel('Email', { exact: true })).toHaveAttribute('readonly', '');
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

/** RFC 4648 base32, as the profile page shows the secret (spaces allowed). */
export function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of text.replace(/[\s=]/g, '').toUpperCase()) {
    const value = alphabet.indexOf(ch);
    if (value < 0) throw new Error(`not base32: ${text}`);
    bits += value.toString(2).padStart(5, '0');
  }
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The 6-digit TOTP (RFC 6238, SHA-1, 30 s) of `secret` at `unixSeconds`: what a phone shows. */
export function totp(secret: Buffer, unixSeconds: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return binary.toString().padStart(6, '0');
}

export const now = () => Date.now() / 1000;

/** Profile → Enable two-factor authentication → code → Turn on. Returns the secret and codes. */
export async function enroll(page: Page): Promise<{ secret: Buffer; codes: string[] }> {
  await open(page, '/profile');
  await page.getByRole('button', { name: 'Enable two-factor authentication' }).click();
  await expect(page.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
  const secret = base32Decode(await page.getByTestId('totp-secret').innerText());
  await page.getByLabel('Enter the 6-digit code your app shows').fill(totp(secret, now()));
  await page.getByRole('button', { name: 'Turn on' }).click();
  const shown = page.getByTestId('recovery-codes');
  await expect(shown.getByRole('listitem')).toHaveCount(10);
  const codes = await shown.getByRole('listitem').allInnerTexts();
  await expect(page.getByText('Two-factor authentication is on.')).toBeVisible();
  await expect(shown.getByRole('link', { name: 'Download' })).toHaveAttribute('download', 'gatehouse-recovery-codes.txt');
  return { secret, codes };
}

/// The control of the tests' DNS server (end2end/dns/server.mjs; see playwright.config.ts).
const dnsControl = `http://127.0.0.1:${Number(process.env.GATEHOUSE_E2E_PORT ?? 3100) + 11}`;

/// Publishes TXT records in the tests' DNS server, as an Owner would at their DNS host.
export async function publishTxt(name: string, values: string[]): Promise<void> {
  const resp = await fetch(`${dnsControl}/txt`, {
    method: 'PUT',
    body: JSON.stringify({ name, values }),
  });
  if (!resp.ok) throw new Error(`the test DNS server refused ${name}: ${resp.status}`);
}
