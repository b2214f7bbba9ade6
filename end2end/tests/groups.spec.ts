import { Browser, expect, Page, test } from '@playwright/test';
import { acceptInNewBrowser, failOnPageErrors, invite, open, pickMember, signUp, uniqueEmail } from './helpers';

/** Invites `name` with `role` and accepts in a new browser; returns that page. */
async function addMember(page: Page, browser: Browser, name: string, role: string): Promise<Page> {
  const link = await invite(page, name, uniqueEmail(name.split(' ')[0].toLowerCase()), role);
  return acceptInNewBrowser(browser, link, name);
}


test('New group creates a group with two members and a limit of 3; its Team Leader changes the limit', async ({ page, browser }) => {
  failOnPageErrors(page);
  await signUp(page, 'Olivia Owner', uniqueEmail('groups-owner'), 'Group Co');
  await expect(page.getByTestId('org-name')).toHaveText('Group Co');
  const leader = await addMember(page, browser, 'Tess Leader', 'Team Leader');
  await addMember(page, browser, 'Uma User', 'User');

  await open(page, '/groups');
  await page.getByRole('button', { name: 'New group' }).click();
  const form = page.locator('section', { has: page.getByRole('heading', { name: 'New group' }) });
  await form.getByLabel('Name', { exact: true }).fill('Red Team');
  await form.getByLabel('Description').fill('Offensive testing');
  await form.getByLabel('Concurrent scans limit').fill('3');
  await pickMember(page, 'tes', 'Tess Leader');
  await pickMember(page, 'um', 'Uma User');
  await expect(form.getByRole('list', { name: 'Chosen members' }).getByRole('listitem')).toHaveCount(2);
  await form.getByRole('button', { name: 'Create' }).click();

  // The group's page: its settings and both members.
  await expect(page).toHaveURL(/\/groups\/\d+$/);
  await expect(page.getByRole('heading', { name: 'Red Team' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Members (2)' })).toBeVisible();
  await expect(page.getByLabel('Concurrent scans limit')).toHaveValue('3');
  await page.screenshot({ path: 'test-results/group-page.png', fullPage: true });
  const groupPath = new URL(page.url()).pathname;
  await open(page, '/groups');
  const row = page.getByRole('row', { name: /Red Team/ });
  await expect(row.getByRole('cell').nth(2)).toHaveText('2');
  await expect(row.getByRole('cell').nth(3)).toHaveText('3');
  await page.screenshot({ path: 'test-results/groups.png', fullPage: true });

  // The Team Leader, a member of the group, changes its limit.
  await open(leader, groupPath);
  await leader.getByLabel('Concurrent scans limit').fill('5');
  await leader.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(leader.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  await open(page, groupPath);
  await expect(page.getByLabel('Concurrent scans limit')).toHaveValue('5');
  // A limit beyond the plan is explained next to the field.
  await page.getByLabel('Concurrent scans limit').fill('50');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByText('The Free plan allows at most 5 concurrent scans per group.')).toBeVisible();
});
