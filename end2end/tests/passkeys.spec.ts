import { expect, Page, test } from '@playwright/test';
import { acceptInNewBrowser, enroll, failOnPageErrors, invite, now, open, PASSWORD, signUp, totp, uniqueEmail } from './helpers';

// Browsers offer WebAuthn on a domain name only: these pages are opened at localhost, the
// address Gatehouse serves by default, not at the IP address the other tests use.
const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 3100);
const site = `http://localhost:${port}`;
test.use({ baseURL: site });

/** Chromium's virtual authenticator (DevTools protocol): a platform passkey that verifies its user. */
async function addVirtualAuthenticator(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
}

function twoFactorPanel(page: Page) {
  return page.locator('section#two-factor');
}

test('a passkey is added on the profile, signs in after the password, is renamed and removed', async ({ page }) => {
  failOnPageErrors(page);
  await addVirtualAuthenticator(page);
  const email = uniqueEmail('passkey');
  await signUp(page, 'Pat Passkey', email, 'Passkey Co');
  await expect(page.getByTestId('org-name')).toHaveText('Passkey Co');

  await open(page, '/profile');
  const panel = twoFactorPanel(page);
  await panel.getByLabel('Name', { exact: true }).fill('Laptop passkey');
  await panel.getByRole('button', { name: 'Add a security key or passkey' }).click();
  // The first second factor: 2FA is on, and the recovery codes are shown once.
  await expect(page.getByTestId('recovery-codes')).toBeVisible();
  const rows = panel.getByRole('table', { name: 'Security keys and passkeys' }).locator('tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('Laptop passkey');
  await expect(rows.first()).toContainText('Never');
  await expect(panel.getByText('Two-factor authentication is on. Sign-in asks for your security key or passkey.')).toBeVisible();
  await page.screenshot({ path: 'test-results/passkeys.png', fullPage: true });
  await page.getByRole('button', { name: 'I have saved them' }).click();

  // Sign out; the second step offers the passkey first.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await open(page, '/signin');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/\/signin\/two-factor$/);
  await expect(page.getByText('Or enter one of your recovery codes:')).toBeVisible();
  await page.screenshot({ path: 'test-results/passkey-second-step.png', fullPage: true });
  await page.getByRole('button', { name: 'Use your security key or passkey' }).click();
  await expect(page.getByTestId('org-name')).toHaveText('Passkey Co');

  // Rename, then remove (the last factor: 2FA is off again).
  await open(page, '/profile');
  await expect(rows.first()).not.toContainText('Never');
  await panel.getByRole('button', { name: 'Rename Laptop passkey' }).click();
  await expect(panel.getByLabel('New name')).toBeFocused();
  await panel.getByLabel('New name').fill('Work laptop');
  await panel.getByRole('button', { name: 'Save' }).click();
  await expect(rows.first()).toContainText('Work laptop');
  await panel.getByRole('button', { name: 'Remove Work laptop' }).click();
  const dialog = panel.getByRole('alertdialog');
  await expect(dialog.getByLabel('Password')).toBeFocused();
  await dialog.getByLabel('Password').fill('not the password');
  await dialog.getByRole('button', { name: 'Remove' }).click();
  await expect(dialog.getByText('That is not your password.')).toBeVisible();
  await dialog.getByLabel('Password').fill(PASSWORD);
  await dialog.getByRole('button', { name: 'Remove' }).click();
  await expect(rows).toHaveCount(0);
  await expect(panel.getByRole('button', { name: 'Enable two-factor authentication' })).toBeVisible();
});

test.describe('at an IP address', () => {
  test.use({ baseURL: `http://127.0.0.1:${port}` });

test('a page opened at an IP address says where passkeys work instead of failing', async ({ page }) => {
  failOnPageErrors(page);
  await signUp(page, 'Ian Address', uniqueEmail('passkey-ip'), 'Address Co');
  await expect(page.getByTestId('org-name')).toHaveText('Address Co');
  await open(page, '/profile');
  await expect(page.getByTestId('passkeys-unavailable')).toContainText(`work only at http://localhost:${port}/`);
  await expect(twoFactorPanel(page).getByRole('button', { name: 'Add a security key or passkey' })).toHaveCount(0);
});
});

/** Profile → Name → Add a security key or passkey, with the page's virtual authenticator. */
async function addPasskey(page: Page, name: string): Promise<void> {
  await open(page, '/profile');
  const panel = twoFactorPanel(page);
  await panel.getByLabel('Name', { exact: true }).fill(name);
  await panel.getByRole('button', { name: 'Add a security key or passkey' }).click();
  await expect(panel.getByRole('status').filter({ hasText: `${name} added.` })).toBeVisible();
}

test('security keys and passkeys only: a member with an authenticator app alone is blocked until they add a passkey', async ({ page, browser }) => {
  failOnPageErrors(page);
  await addVirtualAuthenticator(page);
  await signUp(page, 'Olga Owner', uniqueEmail('strict-owner'), 'Phish Proof');
  await expect(page.getByTestId('org-name')).toHaveText('Phish Proof');
  await addPasskey(page, 'Owner key');
  await page.getByRole('button', { name: 'I have saved them' }).click();

  const link = await invite(page, 'Tia Totp', uniqueEmail('strict-member'), 'User');
  const member = await acceptInNewBrowser(browser, link, 'Tia Totp');
  await addVirtualAuthenticator(member);
  await enroll(member);
  await member.getByRole('button', { name: 'I have saved them' }).click();

  await open(page, '/settings');
  await page.getByRole('checkbox', { name: 'Require two-factor authentication' }).check();
  await page.getByRole('radio', { name: /Security keys and passkeys only/ }).check();
  await page.getByLabel('Grace period (days, 0–30)').fill('0');
  await page.getByRole('button', { name: 'Apply' }).click();
  const confirmation = page.getByRole('alertdialog');
  await expect(confirmation).toContainText('an authenticator app no longer counts');
  await confirmation.getByRole('button', { name: 'Require two-factor authentication' }).click();
  await expect(page.getByTestId('policy-status')).toHaveText('A security key or passkey is required of every member.');
  await expect(page.getByTestId('without-count')).toHaveText('1 member without a security key or passkey.');
  await page.screenshot({ path: 'test-results/security-keys-policy.png', fullPage: true });

  // Her authenticator app is not enough: the organization's pages send her to her profile.
  await open(member, '/members').catch(() => undefined);
  await expect(member).toHaveURL(/\/profile/);
  await expect(member.getByTestId('keys-required')).toContainText('Phish Proof requires a security key or passkey');
  await addPasskey(member, 'Tia phone');
  await open(member, '/members');
  await expect(member.getByRole('cell', { name: 'Tia Totp' })).toBeVisible();
});

test('security keys and passkeys only: a session signed in with an app code is asked for a touch, in place', async ({ page }) => {
  failOnPageErrors(page);
  await addVirtualAuthenticator(page);
  const email = uniqueEmail('step-up');
  await signUp(page, 'Sam Stepup', email, 'Step Up Co');
  await expect(page.getByTestId('org-name')).toHaveText('Step Up Co');
  const { secret } = await enroll(page);
  await page.getByRole('button', { name: 'I have saved them' }).click();
  await addPasskey(page, 'Sam key');

  await open(page, '/settings');
  await page.getByRole('checkbox', { name: 'Require two-factor authentication' }).check();
  await page.getByRole('radio', { name: /Security keys and passkeys only/ }).check();
  await page.getByLabel('Grace period (days, 0–30)').fill('0');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Require two-factor authentication' }).click();
  await expect(page.getByTestId('policy-status')).toHaveText('A security key or passkey is required of every member.');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);

  // Signed in again with the password and an app code, as a phishing proxy could.
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/\/signin\/two-factor$/);
  // The next step's code: the enrollment's own step cannot be used again.
  await page.getByLabel('Authentication code').fill(totp(secret, now() + 30));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByTestId('org-name')).toHaveText('Step Up Co');

  // The organization's pages ask for a touch of the key, and nothing else will do.
  await open(page, '/members');
  const stepUp = page.getByTestId('step-up');
  await expect(stepUp).toContainText('Step Up Co accepts security keys and passkeys only');
  await expect(stepUp.getByLabel('Authentication code or recovery code')).toHaveCount(0);
  await page.screenshot({ path: 'test-results/step-up.png', fullPage: true });
  await stepUp.getByRole('button', { name: 'Use your security key or passkey' }).click();
  await expect(page.getByRole('heading', { name: 'Members' })).toBeVisible();

  // Profile → Sessions says how this session was proven.
  await open(page, '/profile');
  await expect(page.getByTestId('session-methods').first()).toBeVisible();
  await expect(page.getByRole('table', { name: 'Sessions' })).toContainText('Password, authenticator app and security key or passkey');
});
