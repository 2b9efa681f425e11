// Standing, minors and late joiners in a real browser, against `fanfare
// demo` (see e2e/run.sh): zed is a banned creator, ayla is LIVE. The
// accounts these tests need beyond the demo's are signed up through the
// API, so the pages are the only thing under test.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PASSWORD, TEST_TIMEOUT, api, launch, logIn, openPage, shot, uniqueHandle } from '../lib.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

/** Signs up through the API someone born on birthDate; answers their token. */
async function signUpAPI(handle, birthDate) {
  await api('POST', '/v1/users', { handle, display_name: `Test ${handle}`, password: PASSWORD, region: 'FR', birth_date: birthDate, account_type: 'personal' });
  return (await api('POST', '/v1/auth/login', { handle, password: PASSWORD })).token;
}

/** A birth date years ago (and a month more), as YYYY-MM-DD. */
function yearsAgo(years) {
  const d = new Date();
  d.setUTCFullYear(d.getUTCFullYear() - years, d.getUTCMonth() - 1);
  return d.toISOString().slice(0, 10);
}

/** Waits until the page's room feed is connected (its state frame came). */
async function connected(page) {
  await page.locator('[data-conn].is-open').waitFor({ state: 'attached' });
}

/** Screenshots of the page at desktop size, then at phone size. */
async function shots(browser, path, name, login) {
  for (const [size, options] of [['desktop', {}], ['phone', PHONE]]) {
    const s = await openPage(browser, options);
    if (login) await logIn(s.page, login);
    await s.page.goto(path);
    await shot(s.page, `${name}-${size}`);
    await s.finish();
  }
}

describe('Fanfare standing, minors and late joiners', { timeout: TEST_TIMEOUT * 4 }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('a 16-year-old reads why they cannot spend before pressing Send: the gift panel\'s Send stays disabled, the wallet shows no spending limit', { timeout: TEST_TIMEOUT }, async () => {
    const handle = uniqueHandle('teen');
    await signUpAPI(handle, yearsAgo(16));
    const teen = await openPage(browser);
    const { page } = teen;
    await logIn(page, handle);

    // The wallet says why, and offers no allowance to spend.
    const why = page.getByTestId('cannot-spend');
    assert.match(await why.innerText(), /spending them on creators needs you to be 18 or older/);
    assert.equal(await page.getByTestId('wallet-limit-left').count(), 0);
    assert.doesNotMatch(await page.getByRole('main').innerText(), /Spending limit/);
    await shot(page, 'standing-minor-wallet');

    // ayla's room: the reason sits by a Send button that stays disabled,
    // once the feed is connected and a gift is chosen too.
    await page.goto('/creators/ayla');
    const tip = page.getByTestId('action-tip');
    assert.equal(await tip.getAttribute('data-state'), 'unavailable');
    assert.match(await tip.innerText(), /You must be 18 or older to spend coins on creators/);
    assert.equal(await page.getByTestId('tip-dialog').count(), 0);
    await page.getByTestId('button-join_live').click();
    await page.waitForURL('**/live/*');
    await connected(page);
    await page.getByTestId('gift-rose').click();
    const send = page.getByTestId('send-gift');
    assert.equal(await send.isDisabled(), true, 'Send is disabled');
    const reason = page.locator(`#${await send.getAttribute('aria-describedby')}`);
    assert.match(await reason.innerText(), /needs you to be 18 or older/);
    assert.equal(await reason.isVisible(), true);
    await shot(page, 'standing-minor-room');
    await teen.finish();
    await shots(browser, '/wallet', 'standing-minor-wallet', handle);
  });

  test('zed\'s ban is his and the operator\'s business: a visitor reads that Tips are not available, zed and ops read why', { timeout: TEST_TIMEOUT }, async () => {
    const visitor = await openPage(browser);
    await visitor.page.goto('/creators/zed');
    const tip = visitor.page.getByTestId('action-tip');
    assert.equal(await tip.getAttribute('data-state'), 'unavailable');
    assert.equal(await visitor.page.getByTestId('button-tip').isDisabled(), true);
    assert.match(await visitor.page.getByTestId('reason-unavailable').innerText(), /Tips are not available from @zed right now\./);
    assert.doesNotMatch(await visitor.page.locator('body').innerText(), /banned|standing/i);
    // zed offers no shoutouts, and LIVE Subscription is not in this
    // release: neither shows a button at all.
    assert.equal(await visitor.page.getByTestId('action-shoutout').count(), 0);
    assert.equal(await visitor.page.getByTestId('action-subscribe').count(), 0);
    await shot(visitor.page, 'standing-zed-public');
    await visitor.finish();

    const zed = await openPage(browser);
    await logIn(zed.page, 'zed');
    await zed.page.goto('/creators/zed');
    assert.match(await zed.page.getByTestId('private-reasons').innerText(), /Tips need an account in good standing; your account is banned\./);
    await shot(zed.page, 'standing-zed-own');
    await zed.finish();

    const ops = await openPage(browser);
    await logIn(ops.page, 'ops');
    await ops.page.goto('/creators/zed');
    assert.match(await ops.page.getByTestId('reason-standing').innerText(), /@zed's account is banned\./);
    await ops.finish();
    await shots(browser, '/creators/zed', 'standing-zed-public');
  });

  test('a viewer who comes after everyone left reads the chat of a LIVE on air; once it ends, nobody is watching', { timeout: TEST_TIMEOUT }, async () => {
    const creator = uniqueHandle('host');
    const creatorToken = await signUpAPI(creator, yearsAgo(30));
    const l = await api('POST', '/v1/lives', { title: 'Late joiners welcome' }, creatorToken);
    const room = `/live/${l.id}`;

    const fanHandle = uniqueHandle('early');
    await signUpAPI(fanHandle, yearsAgo(25));
    const early = await openPage(browser);
    await logIn(early.page, fanHandle);
    await early.page.goto(room);
    await connected(early.page);
    const text = `Hello to whoever comes later (${fanHandle})`;
    await early.page.getByTestId('chat-input').fill(text);
    await early.page.getByTestId('chat-send').click();
    await early.page.getByTestId('feed').getByText(text).waitFor();
    await early.finish(); // nobody watches any more

    const late = await openPage(browser);
    await late.page.goto(room);
    await connected(late.page);
    await late.page.getByTestId('feed').getByText(text).waitFor();
    await shot(late.page, 'standing-late-joiner');
    await late.finish();

    await api('POST', `/v1/lives/${l.id}/end`, {}, creatorToken);
    const after = await openPage(browser);
    await after.page.goto(room);
    assert.equal(await after.page.getByTestId('live-ended').isVisible(), true);
    assert.equal((await after.page.locator('[data-viewers]').innerText()).trim(), '0');
    await shot(after.page, 'standing-ended-room');
    await after.finish();
    await shots(browser, room, 'standing-ended-room');
  });
});
