import { APIRequestContext, expect, test } from '@playwright/test';
import { acceptInNewBrowser, createApiKey, failOnPageErrors, invite, open, pickMember, signUp, uniqueEmail } from './helpers';

/** A REST call with `key`; fails the test with the request, status and body. */
async function api(request: APIRequestContext, key: string, path: string, data?: object): Promise<any> {
  const response = await request.post(path, { headers: { Authorization: `Bearer ${key}` }, data });
  const body = await response.text();
  expect(response.ok(), `POST ${path} ${JSON.stringify(data)} → ${response.status()} ${body}`).toBeTruthy();
  return JSON.parse(body);
}

test('the overview shows an Owner their organization and a User their part; scans have their own pages', async ({ page, browser, request }) => {
  failOnPageErrors(page);
  await signUp(page, 'Olga Owner', uniqueEmail('overview-owner'), 'Overview Co');
  await expect(page.getByTestId('org-name')).toHaveText('Overview Co');
  const link = await invite(page, 'Uma User', uniqueEmail('overview-uma'), 'User');
  const uma = await acceptInNewBrowser(browser, link, 'Uma User');
  failOnPageErrors(uma);

  // Red Team (Uma's group) may run one scan at a time.
  await open(page, '/groups');
  await page.getByRole('button', { name: 'New group' }).click();
  const form = page.locator('section', { has: page.getByRole('heading', { name: 'New group' }) });
  await form.getByLabel('Name', { exact: true }).fill('Red Team');
  await form.getByLabel('Concurrent scans limit').fill('1');
  await pickMember(page, 'um', 'Uma User');
  await form.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/\/groups\/\d+$/);
  const group = Number(page.url().split('/').pop());

  // Three scans: one finished with a long result, one running, one queued behind it.
  const key = await createApiKey(page, 'runner', ['scans:read', 'scans:write']);
  const scans = [];
  for (const target of ['https://done.example.com', 'https://busy.example.com', 'https://later.example.com']) {
    scans.push(await api(request, key, '/api/v1/scans', { group_id: group, target }));
  }
  const first = await api(request, key, '/api/v1/scans/claim');
  const result = ['<b>not bold</b>', ...Array.from({ length: 200 }, (_, i) => `finding ${i + 1}: all good`)].join('\n');
  await api(request, key, `/api/v1/scans/${first.id}/finish`, { status: 'finished', result });
  await api(request, key, '/api/v1/scans/claim');

  // The Owner's overview.
  await open(page, '/');
  const overview = page.getByTestId('overview');
  await expect(overview.getByTestId('two-factor-compliance')).toContainText('0 of 2 members use two-factor authentication');
  await expect(overview.getByText('1 of 1 running, 1 queued')).toBeVisible();
  await expect(overview.getByRole('heading', { name: 'Recent activity' })).toBeVisible();
  await expect(overview.getByText('scan.created').first()).toBeVisible();
  await page.screenshot({ path: 'test-results/overview-owner.png', fullPage: true });

  // Uma's: her group's scans, no compliance, no audit events.
  await open(uma, '/');
  await expect(uma.getByTestId('overview').getByText('1 of 1 running, 1 queued')).toBeVisible();
  await expect(uma.getByRole('heading', { name: 'Recent activity' })).toHaveCount(0);
  await expect(uma.getByTestId('two-factor-compliance')).toHaveCount(0);
  await uma.screenshot({ path: 'test-results/overview-user.png', fullPage: true });

  // The queued scan says why it waits, on the list and on its page.
  await open(uma, '/scans');
  const queuedRow = uma.getByRole('row', { name: /later\.example\.com/ });
  await expect(queuedRow.getByTestId('scan-waiting')).toHaveText('Red Team is at its limit, 1 of 1 running; 1st in line');
  await queuedRow.getByRole('link', { name: /later\.example\.com/ }).click();
  await expect(uma).toHaveURL(new RegExp(`/scans/${scans[2].id}$`));
  await expect(uma.getByTestId('scan-status')).toHaveText('queued');
  await expect(uma.getByTestId('scan-waiting')).toHaveText('Red Team is at its limit, 1 of 1 running; 1st in line');
  await uma.screenshot({ path: 'test-results/scan-queued.png', fullPage: true });

  // The finished scan's page: the whole result, as text.
  await open(uma, `/scans/${first.id}`);
  await expect(uma.getByTestId('scan-status')).toHaveText('finished');
  await expect(uma.getByTestId('scan-history')).toContainText('Finished');
  await expect(uma.getByTestId('scan-result')).toContainText('<b>not bold</b>');
  await expect(uma.getByTestId('scan-result')).toContainText('finding 200: all good');
  await uma.screenshot({ path: 'test-results/scan-finished.png', fullPage: true });

  // Cancel from the queued scan's page; the group page shows what is left.
  await open(uma, `/scans/${scans[2].id}`);
  await uma.getByRole('button', { name: 'Cancel scan of https://later.example.com/' }).click();
  await expect(uma.getByTestId('scan-status')).toHaveText('cancelled');
  await open(uma, `/groups/${group}`);
  await expect(uma.getByTestId('group-scan-usage')).toHaveText('1 of 1 running, 0 queued');
});
