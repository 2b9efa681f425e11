// The creator's earnings in a real browser, against `fanfare demo` (see
// e2e/run.sh), where ayla has a few weeks of gifts, tips, shoutouts and
// subscriptions, one sandbox payout paid, and more diamonds past their
// hold window; kerem supports her anonymously.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { TEST_TIMEOUT, launch, logIn, openPage, parseCount, shot } from '../lib.mjs';

describe('Fanfare creator earnings', { timeout: TEST_TIMEOUT * 3 }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('ayla sees her diamonds drawn by day and feature, the same figures as a table, and withdraws 10,000 diamonds that appear paid in her history', { timeout: TEST_TIMEOUT }, async () => {
    const { page, finish } = await openPage(browser);
    await logIn(page, 'ayla');
    await page.goto('/studio/earnings');

    // The chart: a bar a day, stacked by feature, drawn.
    const chart = page.getByTestId('earnings-chart');
    assert.equal(await chart.locator('g.bar').count(), 30);
    const segments = await chart.locator('rect').count();
    assert.ok(segments >= 8, `bars drawn: ${segments} segments`);
    for (const feature of ['f-gifts', 'f-tips', 'f-shoutouts', 'f-subscriptions']) {
      assert.ok(await chart.locator(`rect.${feature}`).count() > 0, `no ${feature} segment`);
    }
    const box = await chart.locator('rect').first().boundingBox();
    assert.ok(box && box.height > 0 && box.width > 0, 'a segment with a size on screen');
    // The same figures, readable as a table.
    await page.getByText('The chart as a table').click();
    const rows = page.getByTestId('earnings-table').locator('tbody tr');
    assert.equal(await rows.count(), 30);

    // The demo's first payout, paid.
    const history = page.getByTestId('payout-history');
    assert.equal(await history.locator('tbody tr').count(), 1);
    assert.equal(await history.locator('tbody tr').first().getAttribute('data-state'), 'paid');
    assert.match(await history.innerText(), /10,000[\s\S]*₺1,800\.00[\s\S]*Paid/);

    // The withdraw form previews the fiat value as she types.
    const withdrawable = parseCount((await page.getByTestId('withdrawable').innerText()).replace(/diamonds/, ''));
    assert.ok(withdrawable >= 10_000, `withdrawable ${withdrawable}`);
    const balanceBefore = parseCount((await page.getByTestId('balance-diamonds').innerText()).replace(/diamonds/, ''));
    await page.getByTestId('withdraw-currency').selectOption('EUR');
    await page.getByTestId('withdraw-diamonds').fill('10,000');
    assert.equal(await page.getByTestId('withdraw-preview').innerText(), '10,000 diamonds are paid out as €50.00.');
    await shot(page, '70-earnings-withdraw');
    await page.getByTestId('withdraw-submit').click();
    await page.waitForURL(/\/studio\/earnings\?payout=[^&#]+#payouts$/);
    assert.match(await page.getByTestId('notice').innerText(), /^Payout of 10,000 diamonds asked: €50\.00 to /);
    assert.equal(parseCount((await page.getByTestId('balance-diamonds').innerText()).replace(/diamonds/, '')), balanceBefore - 10_000);

    // The sandbox pays it in a job: the history shows it paid.
    let state = '';
    for (let i = 0; i < 30 && state !== 'paid'; i++) {
      if (i > 0) {
        await page.waitForTimeout(500);
        await page.reload();
      }
      assert.equal(await history.locator('tbody tr').count(), 2);
      state = await history.locator('tbody tr').first().getAttribute('data-state');
    }
    assert.equal(state, 'paid');
    assert.match(await history.locator('tbody tr').first().innerText(), /10,000[\s\S]*€50\.00[\s\S]*Paid/);
    await shot(page, '71-earnings-paid');
    await finish();
  });
});
