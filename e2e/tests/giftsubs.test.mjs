// Gifted subscriptions in a real browser, against `fanfare demo` (see
// e2e/run.sh), where ayla is LIVE with a subscription plan: three new
// viewers watch her room, two of whom accept gifted subscriptions in their
// settings; a new fan on a phone-sized screen opens the Gift subscriptions
// dialog, is refused three (only two viewers may receive one, and no coin
// moves) and two of the dearer tier (not enough coins), then gifts two. Every viewer's feed announces the gift, the two
// consenting viewers find the subscription on their subscriptions page, the
// third does not.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { OUTPUT, PASSWORD, TEST_TIMEOUT, api, aylaRoom, balance, buy, launch, logIn, openPage, parseCount, shot, signUp, uniqueHandle } from '../lib.mjs';

const PHONE = { viewport: { width: 360, height: 780 }, isMobile: true, hasTouch: true };
const SUCCEEDS = '4242 4242 4242 4242';

/** Signs an adult up through the API (the pages under test come after). */
async function signUpAPI(handle) {
  await api('POST', '/v1/users', { handle, display_name: `Test ${handle}`, password: PASSWORD, region: 'FR', birth_date: '1991-03-04', account_type: 'personal' });
}

/** Waits until the page's room feed is connected (its state frame came). */
async function connected(page) {
  await page.locator('[data-conn].is-open').waitFor({ state: 'attached' });
}

/** The coin balance shown in a room's gift panel. */
async function roomBalance(page) {
  return parseCount(await page.getByTestId('room-balance').innerText());
}

describe('Fanfare gifted subscriptions', { timeout: TEST_TIMEOUT * 3 }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('a fan gifts 2 subscriptions from the dialog on a phone: only consenting viewers receive one, every feed announces it; 3 are refused and cost nothing', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const room = await aylaRoom(browser, 'Gifted subscriptions night');

    // Three viewers: the first two accept gifted subscriptions (the
    // settings' switch), the third does not.
    const tag = uniqueHandle('g').slice(2);
    const handles = [`gsuba_${tag}`, `gsubb_${tag}`, `gsubc_${tag}`];
    const viewers = [];
    for (const [i, handle] of handles.entries()) {
      await signUpAPI(handle);
      const v = await openPage(browser);
      await logIn(v.page, handle);
      if (i < 2) {
        await v.page.goto('/settings');
        await v.page.getByTestId('accept-gifts').check();
        await v.page.getByTestId('save-preferences').click();
        await v.page.waitForURL(/\/settings\?preferences=gifts-on/);
        assert.match(await v.page.getByTestId('notice').innerText(), /Viewers in a LIVE may now gift you a subscription/);
      }
      await v.page.goto(room);
      await connected(v.page);
      viewers.push(v);
    }
    const [lina, noor, omid] = viewers;

    // The gifter: a new fan with 1,400 coins of their own, on a phone.
    const fan = await openPage(browser, PHONE);
    const { page } = fan;
    await signUp(page, uniqueHandle('gifter'));
    await buy(page, 'eur-1400', SUCCEEDS);
    await page.goto('/wallet');
    const start = await balance(page);
    assert.ok(start >= 600, `the fan can pay 600 coins, has ${start}`);
    await page.goto(room);
    await connected(page);

    await page.getByTestId('open-gift-subs').click();
    const dialog = page.getByTestId('gift-subs-dialog');
    await dialog.waitFor();
    assert.match(await dialog.getByTestId('gift-subs-tier-Fan club').innerText(), /Fan club[\s\S]*300 coins[\s\S]*each[\s\S]*≈ €4\.71/);
    assert.match(await dialog.getByTestId('gift-subs-tier-Inner circle').innerText(), /1,500 coins/);
    assert.match(await dialog.getByTestId('gift-subs-total').innerText(), /Total: 300 coins ≈ €4\.71/);

    // The quick choices and the number agree, and the total follows.
    await dialog.getByTestId('gift-subs-count-5').click();
    assert.equal(await dialog.getByTestId('gift-subs-count').inputValue(), '5');
    assert.match(await dialog.getByTestId('gift-subs-total').innerText(), /Total: 1,500 coins ≈ €23\.55/);
    await dialog.getByTestId('gift-subs-count').fill('3');
    assert.match(await dialog.getByTestId('gift-subs-total').innerText(), /Total: 900 coins ≈ €14\.13/);
    assert.equal(await dialog.getByTestId('gift-subs-confirm').innerText(), 'Gift 3 subscriptions');
    await dialog.getByTestId('gift-subs-count').fill('0');
    assert.match(await dialog.getByTestId('gift-subs-total').innerText(), /Choose 1 to 100 subscriptions/);
    assert.equal(await dialog.getByTestId('gift-subs-confirm').isDisabled(), true);
    await dialog.getByTestId('gift-subs-count').fill('3');
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scroll');
    await shot(page, '50-gift-subs-dialog-phone');

    // Three, with two viewers who accept: refused, nothing taken.
    await dialog.getByTestId('gift-subs-confirm').click();
    const refusal = dialog.getByTestId('gift-subs-error');
    await refusal.locator('p').waitFor();
    assert.match(await refusal.innerText(), /Nothing was gifted and no coins were taken: only 2 viewers in this LIVE can receive a gifted subscription/);
    assert.equal(await roomBalance(page), start);
    await page.screenshot({ path: join(OUTPUT, '51-gift-subs-refused-phone.png') });

    // Two of the Inner circle cost more than the fan has: refused, with
    // the way to the wallet.
    await dialog.getByTestId('gift-subs-tier-Inner circle').click();
    await dialog.getByTestId('gift-subs-count').fill('2');
    assert.match(await dialog.getByTestId('gift-subs-total').innerText(), /Total: 3,000 coins ≈ €47\.10/);
    await dialog.getByTestId('gift-subs-confirm').click();
    await refusal.getByRole('link', { name: 'Buy coins in your wallet' }).waitFor();
    assert.match(await refusal.innerText(), new RegExp(`You don’t have enough coins: 2 subscriptions cost 3,000 coins and you have ${start.toLocaleString('en')} coins\\. Nothing was gifted\\.`));
    assert.equal(await refusal.getByRole('link', { name: 'Buy coins in your wallet' }).getAttribute('href'), '/wallet#buy');
    assert.equal(await roomBalance(page), start);

    // Two of the Fan club: gifted, to the two who accept.
    await dialog.getByTestId('gift-subs-tier-Fan club').click();
    assert.match(await dialog.getByTestId('gift-subs-total').innerText(), /Total: 600 coins ≈ €9\.42/);
    await dialog.getByTestId('gift-subs-confirm').click();
    const success = dialog.getByTestId('gift-subs-status');
    await success.locator('p').waitFor();
    assert.match(await success.innerText(), new RegExp(`You gifted 2 subscriptions to @ayla’s Fan club \\(600 coins\\)\\. @${handles[0]} and @${handles[1]} received one each\\.`));
    assert.equal(await refusal.innerText(), '');
    assert.equal(await roomBalance(page), start - 600);
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scroll');
    await page.screenshot({ path: join(OUTPUT, '52-gift-subs-done-phone.png') });
    await dialog.getByTestId('gift-subs-close').click();
    await dialog.waitFor({ state: 'hidden' });

    // Every feed announces it, with the gifter's name.
    const line = new RegExp(`gifted 2 subscriptions to @ayla’s Fan club: @${handles[0]}, @${handles[1]}`);
    for (const v of [fan, lina, noor, omid]) {
      const item = v.page.getByTestId('feed-gifted').filter({ hasText: handles[0] });
      await item.waitFor();
      assert.match(await item.innerText(), line);
    }
    assert.match(await lina.page.getByTestId('feed-gifted').filter({ hasText: handles[0] }).innerText(), /One is yours!/);
    assert.doesNotMatch(await omid.page.getByTestId('feed-gifted').filter({ hasText: handles[0] }).innerText(), /One is yours!/);
    await shot(noor.page, '53-gift-subs-feed');

    // The two who accept subscribe now; the third does not.
    for (const v of [lina, noor]) {
      await v.page.goto('/subscriptions');
      assert.match(await v.page.getByTestId('subscription-ayla').innerText(), /@ayla · Fan club/);
    }
    await omid.page.goto('/subscriptions');
    assert.equal(await omid.page.getByTestId('subscription-ayla').count(), 0);

    await page.goto('/wallet');
    assert.equal(await balance(page), start - 600);
    for (const v of [fan, ...viewers]) await v.finish();
  });
});
