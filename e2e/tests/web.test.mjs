// The web app in a real browser, against `fanfare demo` (see e2e/run.sh).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TEST_TIMEOUT, balance, buy, launch, logIn, openPage, parseCount, shot, signUp, uniqueHandle } from '../lib.mjs';

const SUCCEEDS = '4242 4242 4242 4242';
const DECLINED = '4000 0000 0000 0002';

describe('Fanfare web app', { timeout: TEST_TIMEOUT * 6 }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('a new fan signs up, buys the 70-coin pack with the success card, and sees the balance and the history row', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser);
    await page.goto('/');
    await shot(page, '01-home');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.waitForURL('**/signup');

    const handle = uniqueHandle('buyer');
    await signUp(page, handle, { screenshot: '02-signup' });
    assert.equal(await balance(page), 0);
    await assert.doesNotReject(page.getByText('No activity yet').waitFor());
    await shot(page, '03-wallet-new');

    await buy(page, 'eur-70', SUCCEEDS);
    await page.waitForURL('**/wallet?bought=*');
    assert.equal(await page.getByTestId('notice').innerText(),
      'Payment accepted: 70 coins added for €1.19. Your balance is now 70 coins.');
    assert.equal(await balance(page), 70);
    assert.equal(await page.getByTestId('balance-value').innerText(), '€1.10');
    assert.match(await page.getByTestId('nav-balance').innerText(), /^70\s+coins$/);

    const rows = page.getByTestId('history').locator('tbody tr');
    assert.equal(await rows.count(), 1);
    const row = rows.first();
    // A statement's row: what it was, with whom, and the price paid (not
    // the coins' reference value, €1.10).
    assert.match(await row.locator('td[data-label="Transaction"]').innerText(), /^Coins bought\s+Pack of 70 coins$/);
    assert.equal(await row.locator('td[data-label="Amount"]').innerText(), '+70 coins');
    assert.equal(await row.locator('td[data-label="Value"]').innerText(), '+€1.19');
    assert.equal(await row.locator('td[data-label="With"]').innerText(), 'Fanfare');
    await assert.doesNotReject(row.getByRole('button', { name: 'Refund' }).waitFor());
    await shot(page, '04-wallet-bought');
    await finish();
  });

  test('a declined card shows a readable error and leaves the balance unchanged', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser);
    await signUp(page, uniqueHandle('declined'));
    assert.equal(await balance(page), 0);

    await buy(page, 'eur-350', DECLINED);
    const error = page.getByRole('alert');
    assert.equal(await error.innerText(), 'Your card was declined. No coins were taken.');
    assert.equal(await balance(page), 0);
    assert.equal(await page.getByTestId('balance-value').innerText(), '€0.00');
    await assert.doesNotReject(page.getByText('No activity yet').waitFor());
    // The form keeps what was chosen, so another card is one click away.
    assert.equal(await page.getByLabel('Card number').inputValue(), DECLINED);
    assert.ok(await page.getByTestId('pack-eur-350').locator('input').isChecked());
    await shot(page, '05-wallet-declined');

    await buy(page, 'eur-350', SUCCEEDS);
    await page.waitForURL('**/wallet?bought=*');
    assert.equal(await balance(page), 350);
    await finish();
  });

  test('a fan sets a daily spend limit in settings and sees it shown', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser);
    await signUp(page, uniqueHandle('limit'));
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page.waitForURL('**/settings');
    assert.equal(await page.getByTestId('limit-daily').innerText(), '100,000 coins/day');

    await page.getByLabel('Your daily limit, in coins').fill('2500');
    await page.getByRole('button', { name: 'Save limit' }).click();
    await page.waitForURL('**/settings?saved=1');
    assert.equal(await page.getByTestId('notice').innerText(),
      'Saved. Your daily spend limit is now 2,500 coins a day, in force at once.');
    assert.equal(await page.getByTestId('limit-daily').innerText(), '2,500 coins/day');
    assert.equal(await page.getByTestId('limit-left').innerText(), '2,500 coins');
    assert.equal(await page.getByLabel('Your daily limit, in coins').inputValue(), '2500');

    // A raise waits 24 hours; the lower limit stays until then.
    await page.getByLabel('Your daily limit, in coins').fill('4000');
    await page.getByRole('button', { name: 'Save limit' }).click();
    await page.waitForURL('**/settings?saved=1');
    assert.match(await page.getByTestId('notice').innerText(), /higher limit \(4,000 coins a day\) takes effect in 24 hours/);
    assert.match(await page.getByTestId('limit-pending').innerText(), /A higher limit is waiting: 4,000 coins a day from /);
    assert.equal(await page.getByTestId('limit-daily').innerText(), '2,500 coins/day');
    await shot(page, '06-settings-limit');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Wallet' }).click();
    await page.waitForURL('**/wallet');
    assert.equal(await page.getByTestId('wallet-limit-left').innerText(), '2,500');
    await finish();
  });

  test('the demo fan sam logs in, buys coins with 4242 and sees the new balance', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser);
    await page.goto('/login');
    await assert.doesNotReject(page.getByText('Demo: log in as sam').waitFor());
    await shot(page, '07-login');
    await logIn(page, 'sam');
    // On a desktop the account (handle, Log out) is in the header's bar.
    assert.match(await page.getByTestId('account').innerText(), /@sam\s+Log out/);
    // A fresh demo gives sam 27,000 coins (checked on a fresh demo by the Go
    // tests in cmd/fanfare); the files before this one spend some of them.
    const before = await balance(page);
    assert.ok(before > 0, `sam has demo coins, has ${before}`);

    await buy(page, 'eur-350', SUCCEEDS);
    await page.waitForURL('**/wallet?bought=*');
    const after = await balance(page);
    assert.equal(after, before + 350);
    assert.equal(parseCount((await page.getByTestId('nav-balance').innerText()).replace(/coins/, '')), after);
    assert.match(await page.getByTestId('notice').innerText(), /350 coins added for €5\.69/);
    await shot(page, '08-sam-wallet');

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/?bye=1');
    assert.equal(await page.getByTestId('notice').innerText(), 'You are logged out. See you soon!');
    await finish();
  });

  test('a refund asks for confirmation, then takes the coins back', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser, { viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    await signUp(page, uniqueHandle('refund'));
    await buy(page, 'eur-70', SUCCEEDS);
    await page.waitForURL('**/wallet?bought=*');
    assert.equal(await balance(page), 70);
    await shot(page, '09-wallet-mobile-dark');

    // Dismissing the question sends nothing.
    page.once('dialog', (d) => d.dismiss());
    await page.getByRole('button', { name: 'Refund' }).click();
    await page.waitForTimeout(500);
    assert.match(page.url(), /\/wallet\?bought=/);
    assert.equal(await balance(page), 70);

    const question = new Promise((resolve) => page.once('dialog', (d) => { resolve(d.message()); d.accept(); }));
    await page.getByRole('button', { name: 'Refund' }).click();
    assert.match(await question, /Refund this purchase\?/);
    await page.waitForURL('**/wallet?refunded=*');
    assert.equal(await page.getByTestId('notice').innerText(),
      'Refund complete: 70 coins were taken back and €1.19 goes back to your card.');
    assert.equal(await balance(page), 0);
    assert.equal(await page.getByTestId('history').locator('tbody tr').count(), 2);
    await finish();
  });
});
