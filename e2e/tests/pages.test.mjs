// Every page of the web app at a phone's size (390×844) and a desktop's
// (1280×900), against `fanfare demo` (see e2e/run.sh): a screenshot of
// each (NAME-phone.png, NAME-desktop.png), no horizontal scrolling, and on
// the phone a compact header whose menu opens and leads where it says.
// Subscriber content (posts, emotes) at 360 px too, and its upload forms.
// Then the End LIVE dialog, a gift's result where the sender looks, the
// creators' directory and the sign-up form's errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { OUTPUT, PASSWORD, TEST_TIMEOUT, buy, launch, logIn, openPage, shot, signUp, uniqueHandle } from '../lib.mjs';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const SIZES = [['phone', PHONE], ['desktop', DESKTOP]];
/** The narrowest phone the pages are made for. */
const NARROW_PHONE = { width: 360, height: 740 };

/** A 1×1 PNG. */
const TINY_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/** The tallest a phone's header may be with its menu closed. */
const MAX_PHONE_HEADER = 80;
/** The tallest a desktop's header may be: two rows (the brand, balances
 * and account; the navigation), three for the operator's longer one. */
const MAX_DESKTOP_HEADER = 100;
const MAX_OPERATOR_DESKTOP_HEADER = 140;

const SUCCEEDS = '4242 4242 4242 4242';

/** The address of ayla's LIVE room, from the LIVE page. */
async function aylaRoom(page) {
  await page.goto('/live');
  const card = page.getByTestId('live-list').getByRole('listitem').filter({ hasText: '@ayla' });
  return card.getByTestId('room-link').getAttribute('href');
}

/** Checks what every page must be at size: no horizontal scrolling and, on
 * a phone, a compact header whose menu opens, shows its links and closes. */
async function checkPage(page, name, size) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `${name} at ${size}: scrolls sideways (${scrollWidth} > ${innerWidth})`);
  const menuButton = page.getByTestId('menu-button');
  const nav = page.getByRole('navigation', { name: 'Main' });
  const live = nav.getByRole('link', { name: 'LIVE', exact: true });
  if (size === 'phone') {
    const header = await page.locator('.site-header').boundingBox();
    assert.ok(header.height <= MAX_PHONE_HEADER, `${name}: the phone header is ${header.height}px tall`);
    assert.equal(await live.isVisible(), false, `${name}: the menu starts closed`);
    assert.equal(await menuButton.getAttribute('aria-expanded'), 'false');
    await menuButton.click();
    await live.waitFor();
    await page.locator('[data-testid="menu-button"][aria-expanded="true"]').waitFor({ state: 'attached' });
    for (const link of ['Creators', 'Leaderboard']) {
      assert.ok(await nav.getByRole('link', { name: link }).isVisible(), `${name}: ${link} in the open menu`);
    }
    const open = await page.locator('.site-header').boundingBox();
    assert.equal(open.height, header.height, `${name}: the open menu lies over the page, the header keeps its height`);
    await page.keyboard.press('Escape');
    await live.waitFor({ state: 'hidden' });
    await page.locator('[data-testid="menu-button"][aria-expanded="false"]').waitFor({ state: 'attached' });
  } else {
    const header = await page.locator('.site-header').boundingBox();
    const operator = name.startsWith('ops-') || name.endsWith('-operator');
    const most = operator ? MAX_OPERATOR_DESKTOP_HEADER : MAX_DESKTOP_HEADER;
    assert.ok(header.height <= most, `${name}: the desktop header is ${header.height}px tall (at most ${most})`);
    assert.equal(await menuButton.isVisible(), false, `${name}: no menu button on a desktop`);
    assert.ok(await live.isVisible(), `${name}: the navigation shows on a desktop`);
  }
}

/** Visits each [name, path] at size, checks it and takes its screenshot. */
async function visitAll(page, pages, size, status = {}) {
  for (const [name, path] of pages) {
    const res = await page.goto(path);
    assert.equal(res.status(), status[name] ?? 200, `${name} (${path})`);
    await page.waitForLoadState('load');
    await checkPage(page, name, size);
    if (name === 'api-reference') {
      // A very long page: its top is enough to see how it reads.
      await page.screenshot({ path: join(OUTPUT, `${name}-${size}.png`) });
    } else {
      await shot(page, `${name}-${size}`);
    }
  }
}

describe('Every page, on a phone and a desktop', { timeout: TEST_TIMEOUT * 12 }, () => {
  let browser;
  let room;
  before(async () => {
    browser = await launch();
    const { page, finish } = await openPage(browser);
    room = await aylaRoom(page);
    assert.match(room, /^\/live\/[^/]+$/);
    await finish();
  });
  after(async () => {
    await browser?.close();
  });

  for (const [size, viewport] of SIZES) {
    test(`a visitor's pages at ${size} size`, { timeout: TEST_TIMEOUT * 2 }, async () => {
      const { page, finish } = await openPage(browser, { viewport });
      await visitAll(page, [
        ['home', '/'],
        ['live-now', '/live'],
        ['live-room', room],
        ['live-summary', `${room}/summary`],
        ['login', '/login'],
        ['signup', '/signup'],
        ['creator', '/creators/ayla'],
        ['creator-posts-locked', '/creators/ayla/posts'],
        ['creators', '/creators'],
        ['leaderboard', '/leaderboard'],
        ['api-reference', '/api'],
        ['not-found', '/no-such-page'],
      ], size, { 'not-found': 404 });
      await finish();
    });

    test(`a creator's pages at ${size} size`, { timeout: TEST_TIMEOUT * 2 }, async () => {
      const { page, finish } = await openPage(browser, { viewport });
      await logIn(page, 'ayla');
      // The header shows her diamonds next to her coins.
      await page.getByTestId('nav-diamonds').waitFor();
      await visitAll(page, [
        ['wallet', '/wallet'],
        ['settings', '/settings'],
        ['studio', '/studio'],
        ['monetization', '/studio/monetization'],
        ['earnings', '/studio/earnings'],
        ['supporters', '/studio/supporters'],
        ['shoutout-queue', '/studio/shoutouts'],
        ['subscribers', '/studio/subscribers'],
        ['emotes', '/studio/emotes'],
        ['posts-studio', '/studio/posts'],
        ['posts-own', '/creators/ayla/posts'],
        ['live-room-own', room],
      ], size);
      await finish();
    });

    test(`a fan's pages at ${size} size`, { timeout: TEST_TIMEOUT * 2 }, async () => {
      const { page, finish } = await openPage(browser, { viewport });
      await logIn(page, 'sam');
      // The demo gives sam a delivered shoutout from ayla.
      await page.goto('/shoutouts');
      const delivered = page.getByTestId('inbox').getByRole('listitem').filter({ hasText: 'Delivered' }).first();
      const path = await delivered.getByRole('link').first().getAttribute('href');
      assert.match(path, /^\/shoutouts\/[^/]+$/);
      await visitAll(page, [
        ['shoutout-request', '/creators/ayla/shoutout'],
        ['shoutouts-inbox', '/shoutouts'],
        ['shoutout-delivered', path],
        ['subscribe', '/creators/ayla/subscribe'],
        ['subscriptions', '/subscriptions'],
        ['creator-subscribed', '/creators/ayla'],
        ['creator-posts', '/creators/ayla/posts'],
      ], size);
      await finish();
    });

    test(`the operator's pages at ${size} size`, { timeout: TEST_TIMEOUT * 2 }, async () => {
      const { page, finish } = await openPage(browser, { viewport });
      await logIn(page, 'ops');
      await visitAll(page, [
        ['ops-eligibility', '/ops/eligibility'],
        ['ops-wallets', '/ops/wallets'],
        ['ops-webhooks', '/ops/webhooks'],
        ['ops-shoutouts', '/ops/shoutouts'],
        ['ops-audit', '/ops/audit'],
        ['ops-config', '/ops/config'],
        ['ops-console', '/ops'],
        ['ops-users', '/ops/users'],
        ['ops-user', '/ops/users/ayla'],
        ['ops-payouts', '/ops/payouts'],
        ['ops-verify', '/ops/verify'],
        ['ops-jobs', '/ops/jobs'],
        ['wallet-operator', '/wallet'],
      ], size);
      await finish();
    });
  }

  test('on a phone, the menu is reachable by keyboard and its links lead where they say', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser, { viewport: PHONE });
    await logIn(page, 'sam');
    await page.goto('/live');
    const button = page.getByTestId('menu-button');
    await button.focus();
    await page.keyboard.press('Enter');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Creators', exact: true }).waitFor();
    await page.locator('[data-testid="menu-button"][aria-expanded="true"]').waitFor({ state: 'attached' });
    await page.screenshot({ path: join(OUTPUT, 'menu-open-phone.png') });
    // sam is an adult fan: he could go LIVE, so the studio is linked.
    for (const [name, path] of [['Creators', '/creators'], ['Leaderboard', '/leaderboard'], ['Studio', '/studio'], ['Wallet', '/wallet'], ['Settings', '/settings']]) {
      const link = nav.getByRole('link', { name, exact: true });
      if (!(await link.isVisible())) {
        await button.click();
        await link.waitFor();
      }
      await link.click();
      await page.waitForURL(`**${path}`);
      await page.locator(`.site-nav a[href="${path}"][aria-current="page"]`).waitFor({ state: 'attached' });
    }
    // A click outside closes the menu.
    await button.click();
    await nav.getByRole('link', { name: 'Creators' }).waitFor();
    await page.mouse.click(PHONE.width / 2, PHONE.height - 40);
    await nav.getByRole('link', { name: 'Creators' }).waitFor({ state: 'hidden' });
    await finish();
  });

  test('a minor sees neither the studio nor monetization in her menu', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser);
    await logIn(page, 'mia');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Wallet' }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Studio' }).count(), 0);
    assert.equal(await nav.getByRole('link', { name: 'Monetization' }).count(), 0);
    await finish();
  });

  test('the footer links a readable API reference, and the raw document from there', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser);
    await page.goto('/live');
    await page.getByTestId('api-link').click();
    await page.waitForURL('**/api');
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'API reference');
    const send = page.locator('#op-sendGift');
    await send.waitFor();
    assert.match(await send.innerText(), /POST\s+\/v1\/lives\/\{id\}\/gifts/);
    assert.match(await send.innerText(), /Idempotency-Key/);
    assert.ok(await page.getByTestId('api-schema').count() > 5, 'schemas are listed');
    const raw = await page.getByTestId('openapi-link').getAttribute('href');
    assert.equal(raw, '/openapi.json');
    await finish();
  });

  for (const [size, viewport] of SIZES) {
    test(`End LIVE asks in the page's own dialog (${size})`, { timeout: TEST_TIMEOUT }, async () => {
      const { page, finish } = await openPage(browser, { viewport });
      page.on('dialog', (d) => { d.dismiss(); assert.fail(`a browser dialog opened: ${d.message()}`); });
      await signUp(page, uniqueHandle('host'));
      await page.goto('/studio');
      await page.getByLabel('Title').fill('A short test LIVE');
      await page.getByTestId('go-live').click();
      await page.waitForURL('**/studio?started=1');

      const dialog = page.getByTestId('end-dialog');
      await page.getByTestId('end-live').click();
      await dialog.waitFor();
      assert.equal(await page.getByRole('dialog', { name: 'End your LIVE now?' }).isVisible(), true);
      await shot(page, `end-live-dialog-${size}`);
      // Escape (or Keep going) ends nothing.
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await page.getByTestId('end-live').click();
      await page.getByTestId('end-cancel').click();
      await dialog.waitFor({ state: 'hidden' });
      assert.match(page.url(), /\/studio/);
      assert.ok(await page.getByTestId('end-live').isEnabled());

      await page.getByTestId('end-live').click();
      await page.getByTestId('end-confirm').click();
      await page.waitForURL(/\/live\/[^/]+\/summary$/);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Your LIVE has ended');
      await finish();
    });
  }

  test('without JavaScript, the navigation shows on a desktop and End LIVE still ends the LIVE', { timeout: TEST_TIMEOUT }, async () => {
    const desktop = await openPage(browser, { javaScriptEnabled: false });
    await desktop.page.goto('/live');
    assert.ok(await desktop.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Creators' }).isVisible());
    assert.equal(await desktop.page.getByTestId('menu-button').isVisible(), false);
    await desktop.finish();

    const setup = await openPage(browser);
    const handle = uniqueHandle('nojs');
    await signUp(setup.page, handle);
    await setup.finish();
    const { page, finish } = await openPage(browser, { javaScriptEnabled: false, viewport: PHONE });
    await logIn(page, handle);
    // The menu opens without script too.
    await page.getByTestId('menu-button').click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Studio' }).click();
    await page.waitForURL('**/studio');
    await page.getByLabel('Title').fill('No script LIVE');
    await page.getByTestId('go-live').click();
    await page.waitForURL('**/studio?started=1');
    await page.getByTestId('end-live').click();
    await page.waitForURL(/\/live\/[^/]+\/summary$/);
    await finish();
  });

  for (const [size, viewport] of SIZES) {
    test(`a refused gift and a sent one show where the sender looks (${size})`, { timeout: TEST_TIMEOUT }, async () => {
      const { page, finish } = await openPage(browser, { viewport });
      await signUp(page, uniqueHandle('toast'));
      await page.goto(room);
      await page.locator('[data-conn].is-open').waitFor({ state: 'attached' });

      // No coins yet: the refusal shows in a toast on screen, and under the button.
      await page.getByTestId('gift-corgi').click();
      await page.getByTestId('send-gift').scrollIntoViewIfNeeded();
      await page.getByTestId('send-gift').click();
      const refusal = page.getByRole('alert').filter({ hasText: 'You don’t have enough coins' });
      await refusal.waitFor();
      assert.ok(await refusal.locator('[data-testid="toast-error"]').count() === 1 || await page.getByTestId('toast-error').isVisible());
      await assertOnScreen(page, page.getByTestId('toast-error'), 'the refusal toast');
      await assertOnScreen(page, page.getByTestId('gift-error'), 'the refusal under the button');
      await shot(page, `gift-refused-${size}`);
      await page.getByTestId('toast-error').getByRole('button', { name: 'Dismiss' }).click();
      await page.getByTestId('toast-error').waitFor({ state: 'detached' });

      // With coins, the gift is sent: the toast says so and the stage is in view.
      await page.goto('/wallet');
      await buy(page, 'eur-70', SUCCEEDS);
      await page.waitForURL('**/wallet?bought=*');
      await page.goto(room);
      await page.locator('[data-conn].is-open').waitFor({ state: 'attached' });
      await page.getByTestId('gift-rose').click();
      await page.getByTestId('send-gift').scrollIntoViewIfNeeded();
      await page.getByTestId('send-gift').click();
      const sent = page.getByTestId('toast-success');
      await sent.waitFor();
      assert.match(await sent.innerText(), /You sent Rose ×1/);
      await assertOnScreen(page, sent, 'the success toast');
      await page.locator('.gift-pop').first().waitFor({ timeout: 3_000 });
      await page.waitForTimeout(600); // a smooth scroll, if any, ends
      await assertOnScreen(page, page.locator('.stage-screen'), 'the stage after sending');
      await shot(page, `gift-sent-${size}`);
      await finish();
    });
  }

  test('the creators directory finds creators by handle or name, LIVE first, and pages', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser, { viewport: PHONE });
    await page.goto('/creators');
    const rows = page.getByTestId('creator-list').getByRole('listitem');
    const texts = await rows.allInnerTexts();
    assert.ok(texts.length >= 4, 'the demo creators are listed');
    const live = texts.map((t) => /\bLIVE\b/.test(t));
    assert.ok(live[0], 'a LIVE creator comes first');
    assert.ok(live.indexOf(false) === -1 || live.slice(live.indexOf(false)).every((x) => !x), 'every LIVE creator comes before the others');
    assert.equal(await page.getByTestId('creator-sam').count(), 0, 'fans without followers are not creators');

    await page.getByLabel('Find a creator').fill('Haddad');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL('**/creators?q=Haddad');
    assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => e.dataset.testid)), ['creator-omar']);
    await page.getByTestId('creator-omar').getByRole('link', { name: 'Omar Haddad' }).click();
    await page.waitForURL('**/creators/omar');

    await page.goto('/creators?q=%40AYL');
    assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => e.dataset.testid)), ['creator-ayla']);
    await page.goto('/creators?q=nobody-by-that-name');
    await page.getByTestId('creators-empty').waitFor();
    const res = await page.goto('/creators?page=zero');
    assert.equal(res.status(), 400);
    await finish();
  });

  test('sign-up shows every problem at once, next to its field, and keeps the password unless it was one', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser, { viewport: PHONE });
    await page.goto('/signup');
    // The region is searched in a list of every country, by name or code.
    const options = page.locator('#regions option');
    assert.ok(await options.count() >= 240, 'every ISO 3166 country is offered');
    assert.equal(await page.locator('#regions option[value="TR"]').textContent(), 'Türkiye');
    assert.equal(await page.getByLabel('Country or region').getAttribute('list'), 'regions');

    // The browser's own checks let through what only the server knows.
    await page.getByLabel('Handle').fill('ayla');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Country or region').fill('Atlantis');
    await page.getByLabel('Birth date').fill('2999-01-01');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByTestId('error').waitFor();
    assert.match(await page.getByTestId('error').innerText(), /3 fields need a change/);
    assert.match(await page.getByTestId('handle-error').innerText(), /@ayla is taken/);
    assert.match(await page.getByTestId('region-error').innerText(), /“Atlantis” is not a country or region of the list/);
    assert.match(await page.getByTestId('birth_date-error').innerText(), /cannot be in the future/);
    assert.equal(await page.getByLabel('Handle').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('Password').inputValue(), PASSWORD, 'the password stays: it was fine');
    assert.equal(await page.getByTestId('password-error').count(), 0);
    await shot(page, 'signup-errors-phone');

    // A password too short is the problem now: it is not typed again.
    await page.evaluate(() => { document.querySelector('form[action="/signup"]').noValidate = true; });
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByTestId('password-error').waitFor();
    assert.equal(await page.getByLabel('Password').inputValue(), '');
    assert.equal(await page.getByLabel('Country or region').inputValue(), 'Atlantis', 'what was typed stays');

    // A country typed by its name is taken.
    const handle = uniqueHandle('named');
    await page.getByLabel('Handle').fill(handle);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Country or region').fill('türkiye');
    await page.getByLabel('Birth date').fill('1990-05-17');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL('**/wallet?welcome=1');
    await finish();
  });

  test('subscriber content at 360 px: the posts, locked or not, and the creator\'s editors, their images loaded', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const viewport = NARROW_PHONE;
    const loaded = async (page, selector, what) => {
      const sizes = await page.locator(selector).evaluateAll((imgs) => imgs.map((img) => img.complete ? img.naturalWidth : 0));
      assert.ok(sizes.length > 0, `${what}: no image`);
      assert.ok(sizes.every((w) => w > 0), `${what}: an image did not load (${sizes})`);
    };
    const visitor = await openPage(browser, { viewport });
    await visitAll(visitor.page, [['creator-posts-locked-360', '/creators/ayla/posts']], 'phone');
    assert.equal(await visitor.page.locator('.post-media').count(), 0, 'a visitor sees no media');
    assert.ok(await visitor.page.getByTestId('post-subscribe').count() >= 3, 'each post links Subscribe');
    assert.equal(await visitor.page.locator('[src*="/v1/posts/"]').count(), 0, 'nor its address');
    await visitor.finish();

    const fan = await openPage(browser, { viewport });
    await logIn(fan.page, 'sam');
    await visitAll(fan.page, [['creator-posts-360', '/creators/ayla/posts'], ['creator-subscribed-360', '/creators/ayla']], 'phone');
    await fan.page.goto('/creators/ayla/posts');
    await loaded(fan.page, 'img.post-media', "sam's view of ayla's photo");
    await fan.finish();

    const creator = await openPage(browser, { viewport });
    await logIn(creator.page, 'ayla');
    await visitAll(creator.page, [['emotes-360', '/studio/emotes'], ['posts-studio-360', '/studio/posts']], 'phone');
    await creator.page.goto('/studio/emotes');
    await loaded(creator.page, 'img.emote-image', "ayla's emotes");
    await creator.finish();
  });

  test('a creator adds and deletes an emote, and publishes a post with a photo with its progress bar', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser, { viewport: NARROW_PHONE });
    page.on('dialog', (d) => d.accept());
    await logIn(page, 'ayla');
    await page.goto('/studio/emotes');
    const name = uniqueHandle('e2e').toLowerCase();
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Image').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: Buffer.from(TINY_PNG, 'base64') });
    await page.getByTestId('emote-add').click();
    await page.waitForURL(`**/studio/emotes?added=${name}`);
    const row = page.getByTestId(`emote-${name}`);
    await row.waitFor();
    // A file that is not an image is refused next to its field.
    await page.getByLabel('Name').fill(`${name}2`);
    await page.getByLabel('Image').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not an image at all') });
    await page.getByTestId('emote-add').click();
    await page.getByTestId('emote-image-error').waitFor();
    assert.match(await page.getByTestId('emote-image-error').innerText(), /not a PNG, GIF or WebP image/);
    await shot(page, 'emote-refused-360');
    await page.getByTestId(`emote-delete-${name}`).click();
    await page.waitForURL('**/studio/emotes?deleted=1');
    assert.equal(await page.getByTestId(`emote-${name}`).count(), 0);

    await page.goto('/studio/posts');
    const text = `A photo from the e2e tests ${name}`;
    await page.getByLabel('Text').fill(text);
    await page.getByLabel('Image or video').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: Buffer.from(TINY_PNG, 'base64') });
    await page.getByTestId('post-publish').click();
    await page.waitForURL('**/studio/posts?done=posted');
    const post = page.getByTestId('post').filter({ hasText: text });
    await post.locator('img.post-media').waitFor();
    // A refused file shows the server's message under the form, which keeps the text.
    await page.getByLabel('Text').fill('Keep this text');
    await page.getByLabel('Image or video').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not an image at all') });
    await page.getByTestId('post-publish').click();
    await page.locator('[data-progress-status]').filter({ hasText: 'neither an image' }).waitFor();
    assert.equal(await page.getByLabel('Text').inputValue(), 'Keep this text');
    assert.match(page.url(), /\/studio\/posts\?done=posted$/);
    // Deleted, so the demo stays as it was.
    await page.getByRole('listitem').filter({ hasText: text }).getByTestId('post-delete').click();
    await page.waitForURL('**/studio/posts?done=deleted');
    assert.equal(await page.getByTestId('post').filter({ hasText: text }).count(), 0);
    await finish();
  });

  test('the weekly leaderboard serves what the API does', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser);
    const api = await (await page.request.get('/v1/leaderboards/weekly')).json();
    await page.goto('/');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Leaderboard' }).click();
    await page.waitForURL('**/leaderboard');
    const rows = await page.getByTestId('leaderboard-list').getByRole('listitem').allInnerTexts();
    assert.equal(rows.length, api.creators.length);
    api.creators.forEach((c, i) => {
      assert.match(rows[i], new RegExp(`@${c.handle}`));
      assert.match(rows[i], new RegExp(c.diamonds.toLocaleString('en-US')));
    });
    await page.getByRole('link', { name: 'Previous week' }).click();
    await page.waitForURL('**/leaderboard?week=*');
    await page.getByRole('link', { name: 'Next week' }).waitFor();
    await finish();
  });
});

/** Asserts that locator's element is inside the viewport, below the header. */
async function assertOnScreen(page, locator, what) {
  const box = await locator.boundingBox();
  assert.ok(box, `${what} is shown`);
  const { height } = page.viewportSize();
  const header = await page.locator('.site-header').boundingBox();
  assert.ok(box.y + box.height > header.y + header.height && box.y < height, `${what} is on screen (y ${Math.round(box.y)}, height ${Math.round(box.height)})`);
}
