import { Browser, BrowserContextOptions, expect, Page, test } from '@playwright/test';
import { failOnPageErrors, invite, open, signUp, uniqueEmail } from './helpers';

/**
 * Every route loaded cold (a new browser context: empty cache, nothing loaded before) and
 * hydrated, with no page error and no console error or hydration warning; then client-side
 * navigation between the signed-in pages. The release build serves each page's code as it is
 * shipped, so a page whose code fails to load or to hydrate fails here.
 */
function failOnConsoleProblems(page: Page, seen: string[]): void {
  page.on('console', (msg) => {
    // The 404 page is answered with status 404, which Chromium reports as a failed load.
    if (msg.text().includes('status of 404') && msg.location().url.endsWith('/no-such-page')) return;
    if (msg.type() === 'error' || msg.type() === 'warning' || /hydrat/i.test(msg.text())) {
      seen.push(`${page.url()}: [${msg.type()}] ${msg.text()}`);
    }
  });
}

async function coldPage(browser: Browser, storageState: BrowserContextOptions['storageState'], seen: string[]): Promise<Page> {
  const context = await browser.newContext({ storageState });
  const page = await context.newPage();
  failOnPageErrors(page);
  failOnConsoleProblems(page, seen);
  return page;
}

test('every route loads cold and hydrates, and client-side navigation reaches every page', async ({ page, browser }) => {
  failOnPageErrors(page);
  const problems: string[] = [];
  await signUp(page, 'Rhea Routes', uniqueEmail('routes'), 'Routes Co');
  await expect(page.getByTestId('org-name')).toHaveText('Routes Co');
  const invitation = new URL(await invite(page, 'Ivan Invited', uniqueEmail('ivan'), 'User')).pathname;
  await open(page, '/groups');
  await page.getByRole('button', { name: 'New group' }).click();
  const groupForm = page.locator('section', { has: page.getByRole('heading', { name: 'New group' }) });
  await groupForm.getByLabel('Name', { exact: true }).fill('Blue Team');
  await groupForm.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/\/groups\/\d+$/);
  const groupPath = new URL(page.url()).pathname;
  const signedIn = await page.context().storageState();

  const cold: [string, boolean, string | RegExp][] = [
    ['/signin', false, 'Sign in'],
    ['/signup', false, 'Sign up'],
    [invitation, false, /Routes Co/],
    ['/', true, /Routes Co/],
    ['/members', true, 'Members'],
    ['/groups', true, 'Groups'],
    [groupPath, true, 'Blue Team'],
    ['/scans', true, 'Scans'],
    ['/settings', true, 'Organization settings'],
    ['/audit', true, 'Audit log'],
    ['/profile', true, 'Profile'],
    ['/no-such-page', true, 'Page not found'],
  ];
  // Each page's code is its own download (routes.rs): the pages people arrive at cold
  // (sign-in, an invitation) must not fetch the signed-in pages' code, and those pages must.
  const unitOf = (path: string) => path === '/signin' ? 'sign_in_page'
    : path === invitation ? 'invitation_page'
    : path === '/signup' ? 'account_page'
    : path === '/no-such-page' ? null : 'org_page';
  for (const [path, withSession, heading] of cold) {
    const p = await coldPage(browser, withSession ? signedIn : undefined, problems);
    const wasm: string[] = [];
    p.on('request', (r) => { if (r.url().endsWith('.wasm')) wasm.push(new URL(r.url()).pathname); });
    await open(p, path);
    await expect(p.getByRole('heading', { level: 1 }).first(), path).toHaveText(heading);
    const unit = unitOf(path);
    const units = wasm.filter((f) => f.includes('/split_')).map((f) => f.replace(/^.*\/split_(.*)_\d+\.wasm$/, '$1'));
    expect(units, `${path} fetched ${wasm.join(', ')}`).toEqual(unit ? [unit] : []);
    await p.context().close();
  }

  // Client-side navigation from a cold, hydrated home page: every page of the main menu.
  const nav = await coldPage(browser, signedIn, problems);
  await open(nav, '/');
  const menu = nav.getByRole('navigation', { name: 'Main' });
  for (const [link, heading] of [['Members', 'Members'], ['Groups', 'Groups'], ['Scans', 'Scans'],
    ['Organization settings', 'Organization settings'], ['Audit log', 'Audit log'], ['Profile', 'Profile'],
    ['Members', 'Members']]) {
    const from = nav.url();
    await menu.getByRole('link', { name: link, exact: true }).click();
    await expect(nav.getByRole('heading', { level: 1 }).first(), `${from} → ${link}`).toHaveText(heading);
  }
  // A link inside a page too: the group from the groups list.
  await menu.getByRole('link', { name: 'Groups', exact: true }).click();
  await nav.getByRole('link', { name: 'Blue Team' }).click();
  await expect(nav.getByRole('heading', { level: 1 }).first()).toHaveText('Blue Team');
  await expect(nav).toHaveURL(new RegExp(`${groupPath}$`));
  expect(problems, problems.join('\n')).toEqual([]);
});

test("a build's wasm is served under its own name, cached for good; another build's name finds nothing", async ({ page, request }) => {
  failOnPageErrors(page);
  const responses: { url: string; status: number; cache: string }[] = [];
  page.on('response', (r) => {
    if (/\.(wasm|js)$/.test(new URL(r.url()).pathname)) {
      responses.push({ url: r.url(), status: r.status(), cache: r.headers()['cache-control'] ?? '' });
    }
  });
  await open(page, '/signin');
  const shell = responses.find((r) => r.url.endsWith('/gatehouse.wasm'));
  expect(shell, JSON.stringify(responses, null, 1)).toBeTruthy();
  const build = new URL(shell!.url).pathname.match(/^\/pkg\/([0-9a-f]{16})\/gatehouse\.wasm$/)?.[1];
  expect(build, shell!.url).toBeTruthy();
  for (const r of responses) {
    expect(r.url, JSON.stringify(r)).toContain(`/pkg/${build}/`);
    expect(r.cache, JSON.stringify(r)).toBe('public, max-age=31536000, immutable');
  }
  // A page of an earlier build asks for its files under its own name: not this build's parts.
  const other = build === '0000000000000000' ? '1111111111111111' : '0000000000000000';
  for (const file of ['gatehouse.wasm', responses.find((r) => r.url.includes('/split_'))!.url.split('/').pop()]) {
    const res = await request.get(`/pkg/${other}/${file}`);
    expect(res.status(), `GET /pkg/${other}/${file} → ${res.status()}`).toBe(404);
  }
  const css = await request.get('/pkg/gatehouse.css');
  expect(css.status(), 'GET /pkg/gatehouse.css').toBe(200);
  expect(css.headers()['cache-control'], 'GET /pkg/gatehouse.css').toBe('no-cache');
});
