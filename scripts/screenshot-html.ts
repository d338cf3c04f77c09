// A screenshot of a local HTML file in Debian's Chromium (playwright-core, the system browser), for the
// README's figures: `node dist/scripts/screenshot-html.js PAGE.html OUT.png [--width N] [--element CSS]` takes
// the whole page at N CSS pixels wide (default 900), or the one element CSS selects. Used on the pages
// `recurrent cells --html` writes (one <section> per feature: --element 'section:nth-of-type(3)').

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [page, out] = process.argv.slice(2);
const i = process.argv.indexOf('--width');
const width = i < 0 ? 900 : Number(process.argv[i + 1]);
const e = process.argv.indexOf('--element');
const element = e < 0 ? null : process.argv[e + 1];
if (page === undefined || out === undefined || !(width > 0)) {
  process.stderr.write('usage: node dist/scripts/screenshot-html.js PAGE.html OUT.png [--width N] [--element CSS]\n');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (executablePath === undefined) {
  process.stderr.write('screenshot-html: no Chromium (apt-get install chromium, or set CHROMIUM)\n');
  process.exit(1);
}
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
try {
  const p = await browser.newPage({ viewport: { width, height: 600 } });
  await p.goto(pathToFileURL(resolve(page)).href);
  if (element === null) await p.screenshot({ path: out, fullPage: true });
  else await p.locator(element).screenshot({ path: out });
} finally {
  await browser.close();
}
