import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import axe from 'axe-core';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's Chromium (`scripts/install-deps.sh test` installs it); Playwright cannot download one here. */
export const CHROMIUM = process.env.RONDO_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where screenshots go: gitignored; docs/console/ holds the few chosen by hand. */
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'test-output', 'console');

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (no cookies, no storage); CSP bypassed only so axe-core can be injected. */
  context(options?: { width?: number; dark?: boolean }): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** Chromium on a new, empty profile (Playwright's launch makes one per browser and removes it). */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    browser,
    async context({ width = 1280, dark = false } = {}) {
      const context = await browser.newContext({
        bypassCSP: true,
        viewport: { width, height: 900 },
        colorScheme: dark ? 'dark' : 'light',
      });
      context.setDefaultTimeout(15_000);
      return context;
    },
    close: () => browser.close(),
  };
}

export interface AxeViolation {
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

/** axe-core on the page as it stands: the serious and critical violations (empty when none). */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ content: axe.source });
  // A string, evaluated in the page: axe is the global the injected script defines.
  const results = await page.evaluate<AxeViolation[]>(`axe
    .run(document, { resultTypes: ['violations'] })
    .then((r) => r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => String(n.target)),
    })))`);
  return results.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
