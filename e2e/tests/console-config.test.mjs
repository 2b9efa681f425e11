// The operator's configuration in a real browser, against `fanfare demo`
// (see e2e/run.sh): the demo operator changes a fee (a feature's creator
// share) at /ops/config, a value out of bounds is refused next to its
// field, and the saved change shows in the recent changes (the audit log).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TEST_TIMEOUT, launch, logIn, openPage, shot } from '../lib.mjs';

describe('Fanfare configuration console', { timeout: TEST_TIMEOUT * 2 }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('the operator changes the shoutout share: refused out of bounds, then saved and listed in the recent changes', { timeout: TEST_TIMEOUT }, async () => {
    const ops = await openPage(browser);
    const { page } = ops;
    await logIn(page, 'ops');
    assert.equal(await page.getByTestId('nav-console').count(), 1, "the operator's menu links the console");
    await page.goto('/ops');
    assert.equal(await page.getByTestId('nav-ops-config').count(), 1, "the console's menu links the page");
    await page.goto('/ops/config');
    const shares = page.getByTestId('config-shares');
    const field = shares.getByLabel('Shoutouts');
    const before = Number(await field.inputValue());
    assert.ok(before >= 0 && before <= 10000, `a share in basis points: ${before}`);
    await shot(page, 'console-config');

    // Out of bounds: refused next to the field, nothing saved.
    await field.fill('12000');
    await shares.getByTestId('save-shares').click();
    await page.waitForLoadState();
    const error = page.getByTestId('field-error-shares.shoutouts_bps');
    assert.match(await error.innerText(), /between 0 and 10000, not 12000/);
    assert.equal(await page.getByTestId('config-change').filter({ hasText: 'shares.shoutouts_bps' }).count(), 0);
    await shot(page, 'console-config-refused');

    // A fee the platform keeps: 25 %, the creator 7500 bps.
    const next = before === 7500 ? 7400 : 7500;
    await page.getByTestId('config-shares').getByLabel('Shoutouts').fill(String(next));
    await page.getByTestId('config-shares').getByTestId('save-shares').click();
    await page.waitForURL('**/ops/config?saved=shares*');
    assert.match(await page.getByRole('main').innerText(), /Saved creator shares: in force now on every server/);
    assert.equal(await page.getByTestId('config-shares').getByLabel('Shoutouts').inputValue(), String(next));
    const change = page.getByTestId('config-change').first();
    const text = await change.innerText();
    assert.match(text, /by @ops/);
    assert.match(text, new RegExp(`shares\\.shoutouts_bps\\s*:\\s*${before}\\s*→\\s*${next}`));
    await shot(page, 'console-config-saved');
    await ops.finish();
  });
});
