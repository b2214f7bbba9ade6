// Cold first loads and client-side navigation in Chromium, with the browser's own figures.
// Run by scripts/bench-first-load.sh, which starts the release server and passes its URL.
//
// For every page and network profile: a new browser context (empty cache), the DevTools
// protocol's network throttling, and then
//   - bytes transferred (Network.loadingFinished's encodedDataLength: headers and compressed
//     body as they crossed the wire), for the wasm and for everything;
//   - time to hydrated: from the navigation's start (performance.timeOrigin) until the app
//     marks <body data-hydrated> (its first effect, so forms and buttons work from then on).
// Then, on the fast profile with a warm page, client-side navigation between the signed-in
// pages: from the click until the new page's heading is shown.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../end2end/package.json'));
const { chromium } = require('playwright-core');

const base = process.argv[2];
if (!base) throw new Error('usage: node scripts/first-load.mjs http://127.0.0.1:PORT');
const runs = Number(process.env.FIRST_LOAD_RUNS ?? 3);
const PASSWORD = 'correct horse battery staple';

const profiles = [
  // The two lines: a 10 Mbit/s line with 40 ms round trips, and Lighthouse's
  // mobile network (1.6 Mbit/s, 150 ms) without its CPU slowdown.
  { name: '10 Mbit/s, 40 ms', latency: 40, down: 10e6, up: 5e6 },
  { name: '1.6 Mbit/s, 150 ms', latency: 150, down: 1.6e6, up: 750e3 },
];

const browser = await chromium.launch({
  executablePath: process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function hydrated(page) {
  await page.waitForFunction(() => document.body?.dataset.hydrated === 'true', null, { timeout: 60_000 });
}

function failOnErrors(page, where) {
  page.on('pageerror', (err) => { throw new Error(`page error on ${where}: ${err.message}`); });
  page.on('console', (msg) => {
    // A hydration mismatch is logged, not thrown.
    if (msg.type() === 'error' || /hydrat/i.test(msg.text())) {
      throw new Error(`console ${msg.type()} on ${where}: ${msg.text()}`);
    }
  });
}

// --- Set-up, unthrottled: an Owner with an organization, a group, and an invitation link. ---
const setup = await browser.newContext({ baseURL: base });
const page = await setup.newPage();
failOnErrors(page, 'set-up');
const email = `bench-${Date.now()}@example.com`;
await page.goto('/signup');
await hydrated(page);
await page.getByLabel('Name', { exact: true }).fill('Bench Owner');
await page.getByLabel('Email', { exact: true }).fill(email);
await page.getByLabel('Password').fill(PASSWORD);
await page.getByLabel('Organization name').fill('Bench Org');
await page.getByRole('button', { name: 'Sign up' }).click();
await page.waitForURL((url) => !url.pathname.startsWith('/signup'));
await page.goto('/members');
await hydrated(page);
await page.getByRole('button', { name: 'New user' }).click();
const form = page.locator('section', { has: page.getByRole('heading', { name: 'New user' }) });
await form.getByLabel('Name', { exact: true }).fill('Invited Person');
await form.getByLabel('Email', { exact: true }).fill(`invited-${Date.now()}@example.com`);
await form.getByRole('radio', { name: /^User —/ }).check();
await form.getByRole('button', { name: 'Invite' }).click();
const invitation = new URL(await page.getByLabel('Invitation link').inputValue()).pathname;
await page.goto('/groups');
await hydrated(page);
await page.getByRole('button', { name: 'New group' }).click();
const groupForm = page.locator('section', { has: page.getByRole('heading', { name: 'New group' }) });
await groupForm.getByLabel('Name', { exact: true }).fill('Red Team');
await groupForm.getByRole('button', { name: 'Create' }).click();
await page.waitForURL(/\/groups\/\d+$/);
const groupPath = new URL(page.url()).pathname;
const signedIn = await setup.storageState();
await setup.close();

const pages = [
  { path: '/signin', signedIn: false },
  { path: invitation, label: '/invite/…', signedIn: false },
  { path: '/signup', signedIn: false },
  { path: '/', signedIn: true },
  { path: '/members', signedIn: true },
  { path: '/groups', signedIn: true },
  { path: groupPath, label: '/groups/:id', signedIn: true },
  { path: '/scans', signedIn: true },
  { path: '/settings', signedIn: true },
  { path: '/audit', signedIn: true },
  { path: '/profile', signedIn: true },
];

async function coldLoad(entry, profile) {
  const context = await browser.newContext({ baseURL: base, storageState: entry.signedIn ? signedIn : undefined });
  const p = await context.newPage();
  failOnErrors(p, entry.path);
  const cdp = await context.newCDPSession(p);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: profile.latency,
    downloadThroughput: profile.down / 8,
    uploadThroughput: profile.up / 8,
  });
  const urls = new Map();
  let total = 0;
  let wasm = 0;
  let wasmFiles = 0;
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.loadingFinished', (e) => {
    total += e.encodedDataLength;
    if ((urls.get(e.requestId) ?? '').split('?')[0].endsWith('.wasm')) {
      wasm += e.encodedDataLength;
      wasmFiles += 1;
    }
  });
  // The moment the attribute is set, from the page itself (performance.now() counts from the
  // navigation's start).
  await p.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.body?.dataset.hydrated === 'true') {
        window.__hydratedAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-hydrated'] });
  });
  await p.goto(entry.path, { waitUntil: 'commit' });
  await hydrated(p);
  const ms = await p.evaluate(() => window.__hydratedAt);
  // Let late requests (preloads the page no longer waits for) finish and be counted.
  await p.waitForLoadState('networkidle');
  await context.close();
  return { ms, total, wasm, wasmFiles };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const kb = (bytes) => `${(bytes / 1024).toFixed(0)} KB`;
console.log(`Cold loads (median of ${runs}; bytes as transferred, compressed, headers included)`);
console.log('| page | wasm (files) | all | hydrated at ' + profiles.map((p) => p.name).join(' | hydrated at ') + ' |');
console.log('|---|---|---|' + profiles.map(() => '---|').join(''));
for (const entry of pages) {
  const cells = [];
  let bytes;
  for (const profile of profiles) {
    const results = [];
    for (let i = 0; i < runs; i += 1) results.push(await coldLoad(entry, profile));
    bytes ??= results[0];
    cells.push(`${(median(results.map((r) => r.ms)) / 1000).toFixed(2)} s`);
  }
  console.log(`| ${entry.label ?? entry.path} | ${kb(bytes.wasm)} (${bytes.wasmFiles}) | ${kb(bytes.total)} | ${cells.join(' | ')} |`);
}

// --- Client-side navigation, fast profile, page already hydrated. ---
const nav = await browser.newContext({ baseURL: base, storageState: signedIn });
const np = await nav.newPage();
failOnErrors(np, 'navigation');
const ncdp = await nav.newCDPSession(np);
await ncdp.send('Network.enable');
await ncdp.send('Network.emulateNetworkConditions', {
  offline: false, latency: profiles[0].latency, downloadThroughput: profiles[0].down / 8, uploadThroughput: profiles[0].up / 8,
});
await np.goto('/');
await hydrated(np);
const links = [['Members', 'Members'], ['Groups', 'Groups'], ['Scans', 'Scans'],
  ['Organization settings', 'Organization settings'], ['Audit log', 'Audit log'], ['Profile', 'Profile']];
console.log('\nClient-side navigation (10 Mbit/s, 40 ms; median of the rounds; first visit of a page, then again)');
const times = new Map();
for (let round = 0; round < runs; round += 1) {
  for (const [link, heading] of links) {
    const start = Date.now();
    await np.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link, exact: true }).click();
    await np.getByRole('heading', { level: 1, name: heading }).waitFor();
    // The page's data has arrived when no "Loading…" placeholder is left.
    await np.waitForFunction(() => ![...document.querySelectorAll('p.muted')].some((el) => el.textContent === 'Loading…'));
    const key = round === 0 ? `${link} (first)` : link;
    times.set(key, [...(times.get(key) ?? []), Date.now() - start]);
  }
}
for (const [key, values] of times) console.log(`  ${key}: ${median(values)} ms`);
await browser.close();
