// Shoutouts in a real browser, against `fanfare demo` (see e2e/run.sh): ayla
// offers shoutouts from her monetization page, sam requests one from her
// profile on a phone-sized screen, finds it in his inbox with its deadline,
// ayla accepts it from her queue, and sam cancels a second request through
// the page's own dialog. The demo world is shared by every browser test:
// balances are compared before and after, never assumed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TEST_TIMEOUT, launch, logIn, openPage, parseCount, shot } from '../lib.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

/** The balance shown on the request form. */
async function formBalance(page) {
  return parseCount(await page.getByTestId('request-balance').innerText());
}

describe('Fanfare shoutouts', { timeout: TEST_TIMEOUT * 4 }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('ayla offers shoutouts, sam requests one, sees it in his inbox, ayla accepts it', { timeout: TEST_TIMEOUT }, async () => {
    const ayla = await openPage(browser);
    await logIn(ayla.page, 'ayla');
    await ayla.page.goto('/studio/monetization#shoutouts');
    await ayla.page.getByTestId('shoutouts-enabled').check();
    await ayla.page.getByTestId('shoutouts-paused').uncheck();
    await ayla.page.getByTestId('shoutouts-price').fill('1000');
    await ayla.page.getByTestId('shoutouts-capacity').fill('5');
    await ayla.page.getByTestId('shoutouts-save').click();
    await ayla.page.waitForURL('**/studio/monetization?shoutouts=saved*');
    assert.match(await ayla.page.getByTestId('notice').innerText(), /Shoutouts are on at 1,000 coins/);

    const sam = await openPage(browser, PHONE);
    const { page } = sam;
    await logIn(page, 'sam');
    await page.goto('/creators/ayla');
    assert.match(await page.getByTestId('shoutout-price').innerText(), /1,000 coins\s+≈ €15\.70/);
    await page.getByTestId('request-shoutout').click();
    await page.waitForURL('**/creators/ayla/shoutout');
    const coins = await formBalance(page);
    assert.ok(coins >= 1000, `sam can pay 1,000 coins, has ${coins}`);
    await page.getByTestId('for-someone').check();
    await page.getByTestId('recipient').fill('Lina');
    await page.getByTestId('occasion').selectOption({ label: 'Pep talk' });
    await page.getByTestId('instructions').fill('She runs her first marathon on Sunday.');
    assert.equal(await page.getByTestId('instructions-counter').innerText(), '38/500');
    await shot(page, '30-shoutout-request-mobile');
    await page.getByTestId('send-request').click();
    await page.waitForURL(/\/shoutouts\/[^/?]+\?requested=1$/);
    const id = new URL(page.url()).pathname.split('/').pop();
    assert.match(await page.getByTestId('notice').innerText(), /1,000 coins are held until @ayla delivers/);
    assert.match(await page.getByTestId('deadline').innerText(), /in 2 days 23 hours[\s\S]*expires unanswered/);
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scroll');

    await page.goto('/shoutouts');
    const row = page.getByTestId(`shoutout-${id}`);
    assert.match(await row.innerText(), /Pep talk from @ayla[\s\S]*Waiting for an answer[\s\S]*in 2 days/);
    await shot(page, '31-shoutout-inbox-mobile');

    await ayla.page.goto('/studio/shoutouts');
    const item = ayla.page.getByTestId(`request-${id}`);
    assert.match(await item.innerText(), /Pep talk for Lina[\s\S]*From @sam/);
    await item.getByTestId('accept').click();
    await ayla.page.waitForURL('**/studio/shoutouts?done=accept');
    const accepted = ayla.page.getByTestId(`request-${id}`);
    assert.match(await accepted.getByTestId('state').innerText(), /Accepted/);
    // With JavaScript, the upload form shows, its note for browsers without it does not.
    assert.equal(await accepted.getByTestId('video-file').isVisible(), true);
    assert.equal(await accepted.getByTestId('video-file').getAttribute('accept'), 'video/mp4,video/webm,video/quicktime');
    await shot(ayla.page, '32-shoutout-queue');

    await page.goto(`/shoutouts/${id}`);
    assert.match(await page.getByTestId('state').innerText(), /Accepted/);
    assert.equal(await page.getByTestId('cancel').count(), 0, 'no cancel once accepted');
    await sam.finish();
    await ayla.finish();
  });

  test('sam cancels a request through the confirmation and gets every coin back', { timeout: TEST_TIMEOUT }, async () => {
    const sam = await openPage(browser, PHONE);
    const { page } = sam;
    await logIn(page, 'sam');
    await page.goto('/creators/ayla/shoutout');
    const coins = await formBalance(page);
    await page.getByTestId('send-request').click();
    await page.waitForURL(/\/shoutouts\/[^/?]+\?requested=1$/);
    await page.getByTestId('cancel').click();
    const dialog = page.getByTestId('cancel-dialog');
    await dialog.waitFor();
    await shot(page, '33-shoutout-cancel-dialog-mobile');
    await page.getByTestId('cancel-confirm').click();
    await page.waitForURL('**?done=cancel');
    assert.match(await page.getByTestId('notice').innerText(), /Every coin is back in your wallet/);
    await page.goto('/creators/ayla/shoutout');
    assert.equal(await formBalance(page), coins);
    await sam.finish();
  });
});
