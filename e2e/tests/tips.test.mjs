// Creators' profiles and tips in a real browser, against `fanfare demo` (see
// e2e/run.sh), where ayla has turned Tips on and is LIVE, omar has too few
// followers for Tips, and mia is 16. The demo world is shared by every
// browser test: balances are compared before and after, never assumed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TEST_TIMEOUT, balance, buy, launch, logIn, openPage, parseCount, shot } from '../lib.mjs';

const SUCCEEDS = '4242 4242 4242 4242';

/** The balance shown in the tip form. */
async function tipBalance(page) {
  return parseCount(await page.getByTestId('tip-balance').innerText());
}

/** The balance in the navigation's pill ("27,000 coins"). */
async function navBalance(page) {
  return parseCount((await page.getByTestId('nav-balance').innerText()).replace(/coins/, ''));
}

describe('Fanfare creator profiles and tips', { timeout: TEST_TIMEOUT * 4 }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('sam finds ayla from the LIVE page, tips her 500 coins with a message, sees the confirmation and his balance drop by 500', { timeout: TEST_TIMEOUT }, async () => {
    const sam = await openPage(browser);
    const { page } = sam;
    await logIn(page, 'sam');
    // A viewer in ayla's room sees the tip arrive (she is LIVE).
    const viewer = await openPage(browser);
    await viewer.page.goto('/creators/ayla');
    await viewer.page.getByTestId('live-now').click();
    await viewer.page.waitForURL('**/live/*');

    // From the LIVE list, ayla's name leads to her profile.
    await page.goto('/live');
    await page.getByTestId('live-list').getByRole('link', { name: 'Ayla Demir' }).click();
    await page.waitForURL('**/creators/ayla');
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Ayla Demir');
    assert.match(await page.getByTestId('profile-stats').innerText(), /Followers\s+250,000[\s\S]*Türkiye[\s\S]*Personal/);
    assert.match(await page.getByTestId('live-now').getAttribute('href'), /^\/live\/[^/]+$/);
    const button = page.getByTestId('button-tip');
    assert.equal(await button.innerText(), 'Send a tip');
    assert.equal(await page.getByTestId('action-tip').getAttribute('data-state'), 'available');

    // The Tip button leads to the form: chips with their euro values.
    await button.click();
    await page.waitForURL('**/creators/ayla#tip');
    const dialog = page.getByTestId('tip-dialog');
    await dialog.waitFor();
    assert.match(await page.getByTestId('tip-preset-500').innerText(), /500\s*coins\s+€7\.85/);
    assert.match(await page.getByTestId('tip-preset-1000').innerText(), /1,000\s*coins\s+€15\.70/);
    const before = await tipBalance(page);
    assert.equal(await navBalance(page), before);
    assert.ok(before >= 500, `sam can tip 500 coins, has ${before}`);

    // A typed amount gives way to a chip chosen afterwards.
    await page.getByTestId('tip-custom').fill('1234');
    assert.equal(await page.locator('input[name="coins"]:checked').count(), 0);
    await page.getByTestId('tip-preset-500').click();
    assert.equal(await page.getByTestId('tip-custom').inputValue(), '');
    assert.equal(await page.locator('input[name="coins"]:checked').inputValue(), '500');

    const message = 'Thank you for the Sunday LIVE!';
    await page.getByTestId('tip-message').fill(message);
    assert.equal(await page.locator('[data-counter-for="tip-message"]').innerText(), `${message.length}/150`);
    await shot(page, '20-profile-tip-form');
    await page.getByTestId('send-tip').click();
    await page.waitForURL(/\/creators\/ayla\?tipped=[^&]+$/);

    const after = before - 500;
    assert.equal(await page.getByTestId('notice').innerText(),
      `You tipped @ayla 500 coins. Your balance is now ${after.toLocaleString('en-US')} coins.`);
    assert.equal(await tipBalance(page), after);
    assert.equal(await navBalance(page), after);
    const line = viewer.page.getByTestId('feed-tip').filter({ hasText: message });
    await line.waitFor({ timeout: 2000 });
    assert.match(await line.innerText(), /sam tipped 500 coins: Thank you for the Sunday LIVE!/);
    await viewer.finish();
    await shot(page, '21-profile-tipped');

    // ayla reads it among the tips she received.
    const ayla = await openPage(browser);
    await logIn(ayla.page, 'ayla');
    await ayla.page.goto('/studio/monetization');
    const received = ayla.page.getByTestId('tips-received').locator('li').filter({ hasText: message }).first();
    assert.match(await received.innerText(), /@sam tipped\s+500 coins/);
    assert.match(await ayla.page.getByTestId('check-tips-followers').innerText(), /✓[\s\S]*Tips need 100,000 followers/);
    await shot(ayla.page, '22-monetization');

    // sam tops up. (The other browser tests expect sam's 27,000 coins or more.)
    await page.goto('/wallet');
    await buy(page, 'eur-1400', SUCCEEDS);
    await page.waitForURL('**/wallet?bought=*');
    assert.equal(await balance(page), after + 1400);

    await Promise.all([sam.finish(), ayla.finish()]);
  });

  test('omar\'s profile says why he cannot be tipped: too few followers', { timeout: TEST_TIMEOUT }, async () => {
    const visitor = await openPage(browser);
    const { page } = visitor;
    await logIn(page, 'sam');
    await page.goto('/creators/omar');
    const action = page.getByTestId('action-tip');
    assert.equal(await action.getAttribute('data-state'), 'unavailable');
    assert.equal(await action.getByRole('button', { name: 'Send a tip' }).isDisabled(), true);
    const reason = action.getByTestId('reason-followers');
    assert.equal(await reason.isVisible(), true);
    assert.equal(await reason.innerText(), 'Tips need 100,000 followers; @omar has 40,000.');
    assert.equal(await page.getByTestId('tip-dialog').count(), 0, 'no tip form');
    await shot(page, '23-profile-omar');
    await visitor.finish();
  });

  test('mia, 16, opens ayla\'s profile without JavaScript and reads why she cannot tip', { timeout: TEST_TIMEOUT }, async () => {
    const mia = await openPage(browser, { viewport: { width: 390, height: 844 }, colorScheme: 'dark', javaScriptEnabled: false });
    const { page } = mia;
    await logIn(page, 'mia');
    await page.goto('/creators/ayla');
    const action = page.getByTestId('action-tip');
    assert.equal(await action.getAttribute('data-state'), 'unavailable');
    assert.equal(await action.getByRole('button', { name: 'Send a tip' }).isDisabled(), true);
    const reason = action.getByTestId('reason-fan_age');
    assert.equal(await reason.isVisible(), true);
    assert.match(await reason.innerText(), /You must be 18 or older to spend coins on creators/);
    assert.equal(await page.getByTestId('tip-dialog').count(), 0, 'no tip form');
    await shot(page, '24-profile-minor-mobile-dark');
    await mia.finish();
  });
});
