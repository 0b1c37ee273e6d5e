/**
 * G4 console benchmark: what a first visit downloads (gzipped JavaScript and CSS, as the control
 * plane serves them), and the component page's first render with data in Chromium, with 1,000
 * components in the organization (Performance API mark, median of 10 fresh page loads), plus a
 * check that no API request is made twice on one page load. The control plane runs with its
 * platform (the Docker engine and the gateway), as a site has it.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { consoleDirectory } from '../src/api/console.js';
import { launchBrowser } from '../test/console/browser.js';
import { startPlatformRondo } from '../test/helpers/platform.js';

const PROJECTS = 10;
const PER_PROJECT = 100;
const LOADS = 10;

function firstVisitBytes(dir: string): { js: number; css: number } {
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const assets = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
  const size = (ext: string) =>
    assets.filter((a) => a.endsWith(ext)).reduce((sum, a) => sum + statSync(join(dir, `${a}.gz`)).size, 0);
  return { js: size('.js'), css: size('.css') };
}

export async function benchConsole(): Promise<void> {
  const dir = consoleDirectory();
  if (!dir) throw new Error('the console is not built: run `npm run build` first');
  const { js, css } = firstVisitBytes(dir);
  console.log(
    `first visit, gzipped:              JS ${(js / 1024).toFixed(1)} KB, CSS ${(css / 1024).toFixed(1)} KB (target JS ≤ 250 KB)`,
  );

  // With the platform on (the engine, the gateway), as a site runs it: the page's live stream is served.
  const t = await startPlatformRondo('pglite');
  const browser = await launchBrowser();
  try {
    const url = t.apiUrl;
    for (let p = 0; p < PROJECTS; p++) {
      await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: `p${p}` } });
      for (let c = 0; c < PER_PROJECT; c++) {
        const res = await t.call('POST', `/api/v1/orgs/default/projects/p${p}/components`, {
          body: {
            name: `c${c}`,
            type: 'service',
            source: { image: 'nginx:1.27' },
            endpoints: [{ port: 80 }],
          },
        });
        if (res.status !== 201) throw new Error(`seeding: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
    const signIn = await t.call('POST', '/api/v1/session');
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!.split('=');
    const page = `${url}/orgs/default/projects/p5/components/c50/build`;
    const times: number[] = [];
    // The floor, from the same loads: the console's own code loaded and run (DOMContentLoaded
    // waits for the module scripts), before any data was asked for.
    const floors: number[] = [];
    let duplicates: string[] = [];
    for (let i = 0; i < LOADS; i++) {
      const context = await browser.context();
      await context.addCookies([{ name: cookie[0]!, value: cookie[1]!, url }]);
      const tab = await context.newPage();
      const requests: string[] = [];
      tab.on('request', (r) => {
        if (new URL(r.url()).pathname.startsWith('/api/')) requests.push(`${r.method()} ${r.url()}`);
      });
      await tab.goto(page);
      await tab.waitForFunction("performance.getEntriesByName('rondo:component-rendered').length > 0");
      times.push(
        await tab.evaluate<number>("performance.getEntriesByName('rondo:component-rendered')[0].startTime"),
      );
      floors.push(
        await tab.evaluate<number>(
          "(performance.getEntriesByType('navigation')[0]).domContentLoadedEventEnd",
        ),
      );
      duplicates = requests.filter((r, n) => requests.indexOf(r) !== n);
      await context.close();
    }
    times.sort((a, b) => a - b);
    floors.sort((a, b) => a - b);
    const median = (times[4]! + times[5]!) / 2;
    const floor = (floors[4]! + floors[5]!) / 2;
    console.log(
      `component page, first render with data (1,000 components, median of ${LOADS}): ${median.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times.at(-1)!.toFixed(0)}; target ≤ 500 ms)`,
    );
    console.log(
      `floor, the console's code loaded and run (DOMContentLoaded, median): ${floor.toFixed(0)} ms; first render = ${(median / floor).toFixed(2)}× floor`,
    );
    console.log(
      `API requests made twice on one load: ${duplicates.length === 0 ? 'none' : duplicates.join(', ')}`,
    );
  } finally {
    await browser.close();
    await t.close();
  }
}
