// Helpers shared by the browser tests: the browser, pages, screenshots and
// the steps several tests take (sign up, read the balance, call the API,
// find ayla's room).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const BASE_URL = process.env.BASE_URL;
if (!BASE_URL) {
  throw new Error('BASE_URL is not set: run the tests with e2e/run.sh');
}

/** Where screenshots go; e2e/run.sh empties it first. */
export const OUTPUT = fileURLToPath(new URL('./test-output/', import.meta.url));
mkdirSync(OUTPUT, { recursive: true });

/** How long one test may take, in milliseconds. */
export const TEST_TIMEOUT = Number(process.env.E2E_TEST_TIMEOUT_MS || 90_000);

/** The password of every account the tests create, and of the demo users. */
export const PASSWORD = 'fanfare-demo';

/** Debian's Chromium, driven headless. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/**
 * A fresh browser context (no cookies) and page. JavaScript errors on the
 * page are collected in errors; finish() checks there were none.
 */
export async function openPage(browser, options = {}) {
  const context = await browser.newContext({ baseURL: BASE_URL, viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.setDefaultNavigationTimeout(20_000);
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return {
    page,
    async finish() {
      await context.close();
      assert.deepEqual(errors, [], 'JavaScript errors on the page');
    },
  };
}

/**
 * A full-page screenshot in e2e/test-output/NAME.png, taken from the top of
 * the page so the sticky header sits where a reader sees it first.
 */
export async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });
}

/** A handle nobody has yet: prefix (at most 8 characters) and a suffix. */
export function uniqueHandle(prefix) {
  const suffix = Date.now().toString(36).slice(-6) + Math.floor(Math.random() * 1296).toString(36);
  return `${prefix}_${suffix}`;
}

/** Signs a new fan up through the form and waits for their wallet. */
export async function signUp(page, handle, { region = 'FR', screenshot } = {}) {
  await page.goto('/signup');
  await page.getByLabel('Handle').fill(handle);
  await page.getByLabel('Display name').fill(`Test ${handle}`);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Country or region').fill(region);
  await page.getByLabel('Birth date').fill('1990-05-17');
  await page.getByLabel('Personal').check();
  if (screenshot) await shot(page, screenshot);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/wallet?welcome=1');
  assert.match(await page.getByTestId('notice').innerText(), new RegExp(`Welcome to Fanfare, @${handle}`));
}

/** Logs in through the form and waits for the wallet. */
export async function logIn(page, handle, password = PASSWORD) {
  await page.goto('/login');
  await page.getByLabel('Handle').fill(handle);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('main').getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/wallet');
}

/** Reads a count as the pages write it: "27,000", "−70". */
export function parseCount(text) {
  const n = Number(text.trim().replace(/,/g, '').replace('\u2212', '-'));
  assert.ok(Number.isInteger(n), `not a count: ${JSON.stringify(text)}`);
  return n;
}

/** The coin balance shown on the wallet page. */
export async function balance(page) {
  return parseCount(await page.getByTestId('balance').innerText());
}

/** Chooses a pack, fills in a card through its hint button and buys. */
export async function buy(page, packID, card) {
  await page.getByTestId(`pack-${packID}`).click();
  await page.locator(`button[data-card="${card}"]`).click();
  assert.equal(await page.getByLabel('Card number').inputValue(), card);
  await page.getByTestId('buy').click();
  await page.waitForLoadState('load');
}

/** Calls the API with a JSON body (and a bearer token); answers its JSON. */
export async function api(method, path, body, token) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(BASE_URL + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * ayla's room: her LIVE of the demo, or a new one (titled title) if it has
 * ended. With fresh, her current LIVE is ended first, so the room starts
 * with no mutes and the default chat mode whatever earlier tests did in it.
 */
export async function aylaRoom(browser, title, { fresh = false } = {}) {
  const find = async () => (await api('GET', '/v1/lives')).lives.find((l) => l.creator === 'ayla');
  let l = await find();
  if (l && fresh) {
    const { token } = await api('POST', '/v1/auth/login', { handle: 'ayla', password: PASSWORD });
    await api('POST', `/v1/lives/${l.id}/end`, {}, token);
    l = await find();
    assert.ok(!l, "ayla's LIVE has ended");
  }
  if (!l) {
    const ayla = await openPage(browser);
    await logIn(ayla.page, 'ayla');
    await ayla.page.goto('/studio');
    await ayla.page.getByLabel('Title').fill(title);
    await ayla.page.getByTestId('go-live').click();
    await ayla.page.waitForURL('**/studio?started=1');
    await ayla.finish();
    l = await find();
  }
  assert.ok(l, 'ayla is LIVE');
  return `/live/${l.id}`;
}
