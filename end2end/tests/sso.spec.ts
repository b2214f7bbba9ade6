import { expect, test } from '@playwright/test';
import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { acceptInNewBrowser, failOnPageErrors, invite, open, publishTxt, signUp } from './helpers';

// Single sign-on through a real OpenID Provider (oidc-provider, end2end/oidc/provider.mjs)
// and its own sign-in page, in Chromium, for a domain verified through the tests' DNS server
// (end2end/dns/server.mjs). Gatehouse's redirect URI is on its served address,
// http://localhost:<port>/sso/callback/<org>, so these pages are opened at localhost.
const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 3100);
const site = `http://localhost:${port}`;
test.use({ baseURL: site });
// The second test needs the connection the first one made.
test.describe.configure({ mode: 'serial' });

const domain = `sso-${Date.now()}.example`;
const email = (name: string) => `${name}@${domain}`;
let provider: ChildProcess;
let issuer = '';

/// Starts the provider, registered with the connection's own redirect URI.
async function startProvider(redirectUri: string): Promise<void> {
  const config = {
    port: 0,
    clients: [{
      client_id: 'gatehouse-e2e',
      client_secret: 'e2e-client-secret',
      redirect_uris: [redirectUri],
    }],
    accounts: {
      olive: { email: email('olive'), email_verified: true, name: 'Olive Owner' },
      alice: { email: email('alice'), email_verified: true, name: 'Alice Adams' },
    },
  };
  provider = spawn('node', [path.join(__dirname, '..', 'oidc', 'provider.mjs')], {
    env: { ...process.env, OIDC_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: provider.stdout! });
  issuer = await new Promise<string>((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line).issuer));
    provider.once('exit', (code) => reject(new Error(`the test provider exited (${code})`)));
  });
  // Keep reading, so that the provider never writes into a closed pipe.
  lines.on('line', () => {});
}

test.afterAll(() => {
  provider?.kill();
});

test('an Owner connects the provider, tests it, requires it; members sign in through it', async ({ page, browser }) => {
  failOnPageErrors(page);
  await signUp(page, 'Olive Owner', email('olive'), 'SSO Co');
  await expect(page.getByTestId('org-name')).toHaveText('SSO Co');
  // A password member, invited before single sign-on is required.
  const link = await invite(page, 'Carol', email('carol'), 'User');
  const carol = await acceptInNewBrowser(browser, link, 'Carol');

  await open(page, '/settings');
  // The domain first: single sign-on speaks only for a domain the organization verified.
  const domains = page.locator('section#domains');
  await domains.getByLabel('Domain').fill(domain);
  await domains.getByRole('button', { name: 'Add domain' }).click();
  const row = domains.locator(`tr[data-domain="${domain}"]`);
  await expect(row.getByTestId('domain-status')).toHaveText('Not verified');
  await row.getByRole('button', { name: `Verify ${domain}` }).click();
  await expect(row.getByTestId('domain-check-error')).toContainText('No TXT record at _gatehouse-challenge-');
  const recordName = await row.getByTestId('domain-record-name').innerText();
  const recordValue = await row.getByTestId('domain-record-value').innerText();
  await publishTxt(recordName, [recordValue]);
  await row.getByRole('button', { name: `Verify ${domain}` }).click();
  await expect(row.getByTestId('domain-status')).toContainText('Verified since');
  await page.screenshot({ path: 'test-results/verified-domains.png', fullPage: true });

  const panel = page.locator('section#sso');
  const redirectUri = await panel.getByTestId('sso-redirect-uri').innerText();
  expect(redirectUri).toMatch(new RegExp(`^${site}/sso/callback/\\d+$`));
  await startProvider(redirectUri);
  await panel.getByLabel('Issuer URL').fill('http://10.0.0.1/realms/x');
  await panel.getByLabel('Client id').fill('gatehouse-e2e');
  await panel.getByLabel('Client secret').fill('e2e-client-secret');
  await panel.getByLabel('Allowed email domains').fill(domain);
  await panel.getByRole('button', { name: 'Connect' }).click();
  await expect(panel.getByText('it is in a private or internal network')).toBeVisible();
  await panel.getByLabel('Issuer URL').fill(issuer);
  await panel.getByRole('button', { name: 'Connect' }).click();
  await expect(panel.getByTestId('sso-test')).toContainText('Not tested yet');
  await expect(panel.getByRole('button', { name: 'Require single sign-on' })).toBeDisabled();

  // Test connection: a real round trip through the provider's own page.
  await panel.getByRole('button', { name: 'Test connection' }).click();
  await expect(page.getByRole('heading', { name: 'Test identity provider' })).toBeVisible();
  await page.getByLabel('Username').fill('olive');
  await page.getByRole('button', { name: 'Sign in at the provider' }).click();
  await expect(page).toHaveURL(`${site}/settings`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('section#sso').getByTestId('sso-test')).toContainText('Test connection succeeded');
  await page.screenshot({ path: 'test-results/sso-settings.png', fullPage: true });
  await page.locator('section#sso').getByRole('button', { name: 'Require single sign-on' }).click();
  // The confirmation names who it blocks before anything changes: the one member who has
  // never signed in through the provider (the Owner keeps a password path).
  const requireSso = page.locator('section#sso').getByRole('alertdialog');
  await expect(requireSso.getByTestId('impact-summary')).toHaveText(
    '1 member will lose access at once until they sign in through the identity provider; API keys keep working.');
  await requireSso.getByRole('button', { name: 'Require single sign-on' }).click();
  await expect(page.locator('section#sso').getByRole('button', { name: 'Stop requiring single sign-on' })).toBeVisible();

  // Alice has no account: the sign-in page's single sign-on form takes her to the provider,
  // and she arrives signed in, a member of SSO Co.
  const context = await browser.newContext();
  const alice = await context.newPage();
  failOnPageErrors(alice);
  await open(alice, '/signin');
  await alice.getByLabel('Work email').fill(email('alice'));
  await alice.getByRole('button', { name: 'Sign in with single sign-on' }).click();
  await alice.getByLabel('Username').fill('alice');
  await alice.getByRole('button', { name: 'Sign in at the provider' }).click();
  await expect(alice.getByTestId('org-name')).toHaveText('SSO Co');
  await open(alice, '/members');
  await expect(alice.getByRole('heading', { name: 'Members' })).toBeVisible();

  // Carol's password session no longer opens the organization's pages: a page names the
  // organization's provider and asks to continue there.
  await carol.goto('/members');
  await expect(carol.getByRole('heading', { name: 'Single sign-on' })).toBeVisible();
  await carol.getByRole('button', { name: 'Continue to 127.0.0.1' }).click();
  await expect(carol.getByRole('heading', { name: 'Test identity provider' })).toBeVisible();
  await carol.screenshot({ path: 'test-results/sso-required.png' });

  // The Owner's own password session keeps working (the audited break-glass path).
  await open(page, '/members');
  await expect(page.getByRole('heading', { name: 'Members' })).toBeVisible();
  await context.close();
});

test('an email without single sign-on is told to use its password', async ({ page }) => {
  failOnPageErrors(page);
  await open(page, '/signin');
  await page.getByLabel('Work email').fill('someone@nowhere.example');
  await page.getByRole('button', { name: 'Sign in with single sign-on' }).click();
  await expect(page.getByTestId('sso-error')).toHaveText(/No organization uses single sign-on for this email address/);
});
