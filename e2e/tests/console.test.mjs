// The operator's console in a real browser, against `fanfare demo` (see
// e2e/run.sh): the operator finds a fan and grants them coins, the fan
// asks a new creator for a shoutout, the operator bans the creator, and
// the fan sees the shoutout refunded (by a background job) and their
// coins back; the console's home draws its charts. The creator and the
// fan are made for the test through the API, so that the demo's own
// people stay as they are for the other tests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PASSWORD, TEST_TIMEOUT, api, balance, launch, logIn, openPage, shot, uniqueHandle } from '../lib.mjs';

/** Signs up an adult of region through the API; answers their id and token. */
async function signUpAPI(handle, region) {
  const u = await api('POST', '/v1/users', { handle, display_name: `Test ${handle}`, password: PASSWORD, region, birth_date: '1990-05-17', account_type: 'personal' });
  const { token } = await api('POST', '/v1/auth/login', { handle, password: PASSWORD });
  return { id: u.id, token };
}

describe('Fanfare operator console', { timeout: TEST_TIMEOUT * 3 }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('the operator grants a fan coins, bans a creator with an open shoutout, and the fan is refunded', { timeout: TEST_TIMEOUT * 2 }, async () => {
    // A creator who may offer shoutouts (in Türkiye, where the rules let
    // creators offer them; the operator sets the followers through the
    // API), offering them at 600 coins, and a new fan.
    const creator = uniqueHandle('cre');
    const fan = uniqueHandle('fan');
    const c = await signUpAPI(creator, 'TR');
    await signUpAPI(fan, 'FR');
    const { token: opsToken } = await api('POST', '/v1/auth/login', { handle: 'ops', password: PASSWORD });
    await api('PATCH', `/v1/users/${c.id}`, { followers: 20000 }, opsToken);
    await api('PUT', '/v1/me/shoutout-settings', { enabled: true, price: 600, capacity: 5 }, c.token);

    // The operator finds the fan and grants 1,000 coins.
    const ops = await openPage(browser);
    await logIn(ops.page, 'ops');
    await ops.page.goto('/ops');
    await ops.page.getByTestId('ops-nav-users').click();
    await ops.page.waitForURL('**/ops/users');
    await ops.page.getByLabel('Handle, display name or external id').fill(fan.slice(0, 6));
    await ops.page.getByTestId('search').click();
    await ops.page.getByTestId(`user-${fan}`).getByRole('link').click();
    await ops.page.waitForURL(`**/ops/users/${fan}`);
    await ops.page.locator('#grant-coins').fill('1000');
    await ops.page.locator('#grant-reason').fill('Welcome to the beta');
    await ops.page.getByTestId('grant').click();
    await ops.page.waitForURL('**done=granted*');
    assert.match(await ops.page.getByTestId('notice').innerText(), new RegExp(`Granted 1,000 coins to @${fan}`));
    assert.match(await ops.page.getByTestId('audit').innerText(), /wallet\.grant/);
    await shot(ops.page, 'console-user');

    // The fan asks the creator for a shoutout: 600 coins held.
    const f = await openPage(browser);
    await logIn(f.page, fan);
    assert.equal(await balance(f.page), 1000);
    await f.page.goto(`/creators/${creator}/shoutout`);
    await f.page.getByTestId('occasion').selectOption({ label: 'Pep talk' });
    await f.page.getByTestId('instructions').fill('Cheer me up before my exam.');
    await f.page.getByTestId('send-request').click();
    await f.page.waitForURL(/\/shoutouts\/[^/?]+\?requested=1$/);
    const shoutout = new URL(f.page.url()).pathname;
    await f.page.goto('/wallet');
    assert.equal(await balance(f.page), 400);

    // The operator searches the creator and bans them.
    await ops.page.goto('/ops/users');
    await ops.page.getByLabel('Handle, display name or external id').fill(`@${creator}`);
    await ops.page.getByTestId('search').click();
    await ops.page.getByTestId(`user-${creator}`).getByRole('link').click();
    await ops.page.waitForURL(`**/ops/users/${creator}`);
    await ops.page.getByLabel('New standing').selectOption('banned');
    await ops.page.locator('#standing-reason').fill('Impersonating another creator');
    await ops.page.getByTestId('set-standing').click();
    await ops.page.waitForURL('**done=standing');
    assert.match(await ops.page.getByTestId('notice').innerText(), /Changed the standing of .* to banned\. Their open shoutouts are being refunded/);
    assert.equal(await ops.page.getByTestId('standing').innerText(), 'banned');
    assert.match(await ops.page.getByTestId('audit').innerText(), /reason: Impersonating another creator/);
    await shot(ops.page, 'console-ban');

    // The refund runs as a job: the fan's page shows it within a bounded wait.
    const deadline = Date.now() + 30_000;
    let text = '';
    for (;;) {
      await f.page.goto(shoutout);
      text = await f.page.getByRole('main').innerText();
      if (/refunded/i.test(text) || Date.now() > deadline) break;
      await f.page.waitForTimeout(500);
    }
    assert.match(text, /refunded/i, 'the shoutout is refunded');
    await f.page.goto('/wallet');
    assert.equal(await balance(f.page), 1000, 'every coin back');
    await shot(f.page, 'console-fan-refunded');
    await f.finish();

    // The console's home draws its charts.
    await ops.page.goto('/ops');
    const figures = ops.page.getByTestId('figures');
    for (const id of ['coins-sold', 'diamonds-earned', 'diamonds-paid', 'revenue']) {
      assert.equal(await figures.getByTestId(`chart-${id}`).locator('svg rect').count() >= 0, true);
      assert.equal(await figures.getByTestId(`chart-${id}`).locator('svg').count(), 1, `chart ${id} drawn`);
    }
    assert.ok(await figures.getByTestId('chart-coins-sold').locator('svg rect').count() >= 1, 'the demo sold coins');
    assert.match(await ops.page.getByTestId('total-coins-sold').innerText(), /coins/);
    await shot(ops.page, 'console-home');
    await ops.finish();
  });
});
