import { expect, Page, test } from '@playwright/test';
import { acceptInNewBrowser, failOnPageErrors, invite, open, signUp, uniqueEmail } from './helpers';

const WCAG_22_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/** axe-core's WCAG 2.2 AA violations on the page as it is now, one readable line per node. */
async function violations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  return page.evaluate(async (tags) => {
    const axe = (window as any).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
    return result.violations.flatMap((v: any) =>
      v.nodes.slice(0, 5).map((n: any) => `${v.id} (${v.impact}) at ${n.target.join(' ')}: ${n.failureSummary}`));
  }, WCAG_22_AA);
}

for (const colorScheme of ['light', 'dark'] as const) {
  test.describe(`the ${colorScheme} theme`, () => {
    // axe is injected as a script; the pages' Content-Security-Policy would refuse it.
    test.use({ colorScheme, bypassCSP: true });

    test(`every page is free of WCAG 2.2 AA violations (${colorScheme})`, async ({ page, browser }) => {
      failOnPageErrors(page);
      await open(page, '/signin');
      expect(await violations(page), '/signin').toEqual([]);
      // The check itself sees a low-contrast text when there is one.
      await page.evaluate(() => document.querySelector('main')?.insertAdjacentHTML('beforeend',
        '<p style="color:#777;background:#888">faint</p>'));
      expect((await violations(page)).join('\n')).toContain('color-contrast');
      await signUp(page, 'Ada Admin', uniqueEmail(`a11y-${colorScheme}`), `Contrast ${colorScheme}`);
      await expect(page.getByTestId('org-name')).toHaveText(`Contrast ${colorScheme}`);
      const link = await invite(page, 'Uma User', uniqueEmail(`a11y-uma-${colorScheme}`), 'User');
      const uma = await acceptInNewBrowser(browser, link, 'Uma User');
      await uma.close();
      for (const path of ['/', '/members', '/groups', '/scans', '/settings', '/audit', '/profile']) {
        await open(page, path);
        expect(await violations(page), path).toEqual([]);
      }
      await open(page, '/');
      await page.screenshot({ path: `test-results/overview-${colorScheme}.png`, fullPage: true });
    });
  });
}
