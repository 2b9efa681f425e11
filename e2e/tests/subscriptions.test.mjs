// LIVE Subscription in a real browser, against `fanfare demo` (see
// e2e/run.sh): a new fan signs up, buys coins, opens ayla's profile on a
// phone-sized screen, subscribes to her Fan club through the Subscribe
// dialog, reads the notice and finds the subscription on /subscriptions,
// cancels it through the page's own confirmation and turns renewal back
// on; ayla finds the fan in her subscriber list. Without JavaScript, the
// Subscribe button leads to the Subscribe page instead.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TEST_TIMEOUT, balance, buy, launch, logIn, openPage, shot, signUp, uniqueHandle } from '../lib.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const SUCCEEDS = '4242 4242 4242 4242';

describe('Fanfare LIVE Subscription', { timeout: TEST_TIMEOUT * 3 }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('a new fan subscribes to ayla on a phone, cancels, renews again; ayla sees the fan', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const fan = await openPage(browser, PHONE);
    const { page } = fan;
    const handle = uniqueHandle('subfan');
    await signUp(page, handle);
    await buy(page, 'eur-350', SUCCEEDS);
    await page.goto('/wallet');
    const before = await balance(page);
    assert.ok(before >= 300, `the fan can pay 300 coins, has ${before}`);

    await page.goto('/creators/ayla');
    await page.getByTestId('button-subscribe').click();
    const dialog = page.getByTestId('subscribe-dialog');
    await dialog.waitFor();
    assert.equal(page.url().endsWith('/creators/ayla'), true, 'the dialog opens on the profile');
    const card = dialog.getByTestId('tier-card-Fan club');
    assert.match(await card.innerText(), /Fan club[\s\S]*300 coins[\s\S]*a month[\s\S]*≈ €4\.71/);
    assert.match(await dialog.getByTestId('tier-card-Inner circle').innerText(), /1,500 coins/);
    await card.click();
    await shot(page, '40-subscribe-dialog-mobile');
    await dialog.getByTestId('subscribe-confirm').click();
    await page.waitForURL(/\/subscriptions\?subscribed=/);
    const notice = await page.getByTestId('notice').innerText();
    assert.match(notice, /You subscribe to @ayla's Fan club: 300 coins paid for the first month\. It renews on .+\. Your badge: 1-month badge\./);
    const row = page.getByTestId('subscription-ayla');
    assert.match(await row.innerText(), /@ayla · Fan club[\s\S]*Active[\s\S]*300 coins a month[\s\S]*Renews on/);
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scroll');
    await shot(page, '41-subscriptions-mobile');
    await page.goto('/wallet');
    assert.equal(await balance(page), before - 300);

    // Cancel through the page's own dialog: "Keep it" first, then confirm.
    await page.goto('/subscriptions');
    await row.getByTestId('cancel').click();
    const confirm = row.getByTestId('cancel-dialog');
    await confirm.waitFor();
    await shot(page, '42-subscription-cancel-mobile');
    await confirm.getByRole('button', { name: 'Keep it' }).click();
    await confirm.waitFor({ state: 'hidden' });
    assert.equal(page.url().endsWith('/subscriptions'), true);
    await row.getByTestId('cancel').click();
    await confirm.getByTestId('cancel-confirm').click();
    await page.waitForURL('**/subscriptions?done=cancel');
    assert.match(await page.getByTestId('notice').innerText(), /Renewal is off/);
    assert.match(await page.getByTestId('subscription-ayla').innerText(), /Cancelled, until[\s\S]*Turn renewal back on/);

    await page.getByTestId('subscription-ayla').getByTestId('renew').click();
    await page.waitForURL('**/subscriptions?done=renew');
    assert.match(await page.getByTestId('notice').innerText(), /Renewal is back on/);
    assert.match(await page.getByTestId('subscription-ayla').innerText(), /Active[\s\S]*Renews on/);

    // The profile says so.
    await page.goto('/creators/ayla');
    assert.match(await page.getByTestId('subscribed').innerText(), /You subscribe · renews on/);

    const ayla = await openPage(browser);
    await logIn(ayla.page, 'ayla');
    await ayla.page.goto('/studio/subscribers');
    const line = ayla.page.getByTestId(`subscriber-${handle}`);
    assert.match(await line.innerText(), new RegExp(`@${handle}[\\s\\S]*Fan club[\\s\\S]*1 month[\\s\\S]*Active`));
    await shot(ayla.page, '43-subscribers');
    await ayla.finish();
    await fan.finish();
  });

  test('without JavaScript, Subscribe leads to its own page', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser, { ...PHONE, javaScriptEnabled: false });
    const handle = uniqueHandle('subnojs');
    await signUp(page, handle);
    await page.goto('/creators/ayla');
    await page.getByTestId('button-subscribe').click();
    await page.waitForURL('**/creators/ayla/subscribe');
    assert.match(await page.getByTestId('subscribe-page').innerText(), /Fan club[\s\S]*Inner circle/);
    // No coins yet: the refusal says so in a sentence, the form stays.
    await page.getByTestId('subscribe-confirm').click();
    assert.match(await page.getByTestId('error').innerText(), /You don't have enough coins for this subscription \(300 coins a month\): you have 0 coins\./);
    await shot(page, '44-subscribe-nojs-refused');
    await finish();
  });
});
