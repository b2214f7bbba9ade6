import { expect, test } from '@playwright/test';
import { failOnPageErrors, open, publishTxt, signUp } from './helpers';

// An Owner turns provisioning on in Organization settings and copies the token it shows once;
// the identity provider (here, SCIM requests) adds a person and suspends them; Members shows
// the suspension and the group page says the provider manages its group.
const domain = `scim-${Date.now()}.example`;

test('an Owner turns provisioning on; a suspended member shows on Members', async ({ page, request }) => {
  failOnPageErrors(page);
  await signUp(page, 'Olive Owner', `olive@${domain}`, 'SCIM Co');
  await expect(page.getByTestId('org-name')).toHaveText('SCIM Co');
  await open(page, '/settings');
  const domains = page.locator('section#domains');
  await domains.getByLabel('Domain').fill(domain);
  await domains.getByRole('button', { name: 'Add domain' }).click();
  const row = domains.locator(`tr[data-domain="${domain}"]`);
  await expect(row.getByTestId('domain-status')).toHaveText('Not verified');
  await row.getByRole('button', { name: `Verify ${domain}` }).click();
  await expect(row.getByTestId('domain-check-error')).toBeVisible();
  await publishTxt(await row.getByTestId('domain-record-name').innerText(), [await row.getByTestId('domain-record-value').innerText()]);
  await row.getByRole('button', { name: `Verify ${domain}` }).click();
  await expect(row.getByTestId('domain-status')).toContainText('Verified since');

  const panel = page.locator('section#provisioning');
  await expect(panel.getByTestId('provisioning-status')).toHaveText('Off: create a token to turn it on.');
  // A name is needed, said next to the field.
  await panel.getByLabel('Token name').fill('   ');
  await panel.getByRole('button', { name: 'Create token' }).click();
  await expect(panel.getByText('Name the token after the provider that uses it')).toBeVisible();
  await panel.getByLabel('Token name').fill('Okta');
  await panel.getByRole('button', { name: 'Create token' }).click();
  const token = await panel.getByTestId('scim-new-token').locator('code').innerText();
  expect(token).toMatch(/^gths_[A-Za-z0-9]{40}$/);
  await expect(panel.getByTestId('provisioning-status')).toContainText('On: 0 members provisioned');
  await expect(panel.getByRole('table', { name: 'SCIM tokens' }).getByRole('row', { name: /Okta/ })).toBeVisible();
  const base = await panel.getByTestId('scim-base-url').innerText();
  expect(base).toMatch(/\/scim\/v2$/);

  const scim = (method: string, path: string, data?: object) =>
    request.fetch(`/scim/v2${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
      data: data ? JSON.stringify(data) : undefined,
    });
  const made = await scim('POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: `ada@${domain}`, displayName: 'Ada Lovelace',
  });
  expect(made.status(), await made.text()).toBe(201);
  const ada = await made.json();
  const group = await scim('POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Analysts', members: [{ value: ada.id }],
  });
  expect(group.status(), await group.text()).toBe(201);
  const suspended = await scim('PATCH', `/Users/${ada.id}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
  });
  expect(suspended.status(), await suspended.text()).toBe(200);

  await open(page, '/members');
  const list = page.getByRole('table', { name: 'Suspended by provisioning' });
  await expect(list.getByRole('row', { name: /Ada Lovelace/ })).toContainText(`ada@${domain}`);
  await page.screenshot({ path: 'test-results/provisioning-members.png', fullPage: true });

  await open(page, `/groups/${(await group.json()).id}`);
  await expect(page.getByTestId('group-provisioned')).toContainText('Managed by provisioning');

  await open(page, '/settings');
  const settings = page.locator('section#provisioning');
  await expect(settings.getByTestId('provisioning-status')).toContainText('0 members provisioned, 1 suspended, 1 group');
  await expect(settings.getByRole('table', { name: 'Recently provisioned' }).getByRole('row', { name: /Ada Lovelace/ })).toContainText('Suspended');
  await page.locator('section#provisioning').screenshot({ path: 'test-results/provisioning-panel.png' });
});
