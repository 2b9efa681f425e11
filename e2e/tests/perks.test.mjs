// LIVE Subscription's perks in a real browser, against `fanfare demo` (see
// e2e/run.sh), where sam has subscribed to ayla for 3 months: in ayla's
// room sam's message carries his 3-month subscriber badge and her emote as
// a picture; on her posts page sam reads her subscriber-only posts and sees
// their photo. A new viewer without a subscription sees the same emote
// name as plain text and every post locked, with no media.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PASSWORD, TEST_TIMEOUT, api, aylaRoom, launch, logIn, openPage, shot, uniqueHandle } from '../lib.mjs';

const FEED_MS = 15_000;

async function say(page, text) {
  await page.locator('[data-conn].is-open').waitFor({ state: 'attached' });
  await page.getByTestId('chat-input').fill(text);
  await page.getByTestId('chat-send').click();
}

describe('Fanfare subscriber perks', { timeout: TEST_TIMEOUT * 3 }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('sam shows his badge and uses an emote in ayla\'s chat and opens her posts; a viewer without a subscription does not', { timeout: TEST_TIMEOUT * 2 }, async () => {
    // A new LIVE: sam may have been muted in her earlier one.
    const room = await aylaRoom(browser, 'Perks night', { fresh: true });
    const sam = await openPage(browser);
    await logIn(sam.page, 'sam');
    await sam.page.goto(room);
    const note = `hello from sam ${Date.now()}`;
    await say(sam.page, `:aylaheart: ${note}`);
    const line = sam.page.locator('li', { hasText: note }).last();
    await line.waitFor({ timeout: FEED_MS });
    await line.locator('img.emote[alt=":aylaheart:"]').waitFor({ timeout: FEED_MS });
    assert.ok(await line.locator('img.emote').evaluate((img) => img.complete && img.naturalWidth > 0), 'the emote picture loads');
    await line.locator('.badge-subscriber.badge-step-3').waitFor({ timeout: FEED_MS });
    await shot(sam.page, '60-perks-chat-sam');

    await sam.page.goto('/creators/ayla/posts');
    assert.equal(await sam.page.locator('.post-locked').count(), 0, 'a subscriber sees no locked post');
    assert.ok(await sam.page.locator('.post-text').count() >= 3, 'a subscriber reads the posts');
    const photo = sam.page.locator('img.post-media').first();
    await photo.waitFor();
    await sam.page.waitForFunction((img) => img.complete && img.naturalWidth > 0, await photo.elementHandle());
    await shot(sam.page, '61-perks-posts-sam');
    await sam.finish();

    // A new adult viewer, not subscribed.
    const handle = uniqueHandle('perk');
    await api('POST', '/v1/users', { handle, display_name: `Test ${handle}`, password: PASSWORD, region: 'FR', birth_date: '1990-02-03', account_type: 'personal' });
    const other = await openPage(browser);
    await logIn(other.page, handle);
    await other.page.goto(room);
    const plain = `plain from ${handle}`;
    await say(other.page, `:aylaheart: ${plain}`);
    const otherLine = other.page.locator('li', { hasText: plain }).last();
    await otherLine.waitFor({ timeout: FEED_MS });
    assert.match(await otherLine.innerText(), /:aylaheart:/, 'the emote name stays plain text');
    assert.equal(await otherLine.locator('img.emote').count(), 0);
    assert.equal(await otherLine.locator('.badge-subscriber').count(), 0);

    await other.page.goto('/creators/ayla/posts');
    assert.ok(await other.page.locator('.post-locked').count() >= 3, 'every post is locked');
    assert.equal(await other.page.locator('.post-text, .post-media').count(), 0, 'no text and no media');
    assert.doesNotMatch(await other.page.content(), /\/v1\/posts\/[^"]+\/media/, 'the page never names the media');
    await other.page.getByRole('link', { name: /Subscribe/ }).first().waitFor();
    await shot(other.page, '62-perks-posts-locked');
    await other.finish();
  });
});
