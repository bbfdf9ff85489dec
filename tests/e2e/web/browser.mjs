// What the browser tests share: Debian's Chromium driven by playwright-core (NODE_PATH names the
// node_modules that holds it), numbered checks, waiting for a condition, and the page's errors.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(path.join(process.env.NODE_PATH, 'playwright-core'));

let checks = 0, failures = 0;

// Prints "ok   NAME" or "FAIL NAME (detail)" and counts it.
export function check(name, ok, detail) {
  checks++;
  if (!ok) failures++;
  console.log((ok ? 'ok   ' : 'FAIL ') + name + (detail !== undefined ? ' (' + detail + ')' : ''));
}

// fn()'s first truthy value, asked every `every` ms; throws once `timeout` ms have passed.
export async function until(fn, what, timeout, every = 200) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, every));
  }
}

// Headless Chromium with a fresh profile (--user-data-dir, which Playwright sets from the first
// argument), removed by close().
export async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'smartcity-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    browser,
    async close() {
      await browser.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Console errors and uncaught page errors of `page`, appended to `errors`.
export function collectErrors(page, errors) {
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
}

// The check for a test that threw before its end, with the page's errors so far.
export function ranToTheEnd(name, e, errors) {
  check(name + ' test ran to the end', false,
    e.message.split('\n')[0] + (errors.length ? ' | ' + errors.join(' | ') : ''));
}

// Prints "NAME: passed/total checks passed" and exits 0 if every check passed.
export function finish(name) {
  console.log(name + ': ' + (checks - failures) + '/' + checks + ' checks passed');
  process.exit(failures === 0 ? 0 : 1);
}
