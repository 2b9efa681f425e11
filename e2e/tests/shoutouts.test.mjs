// Shoutouts in a real browser, against `fanfare demo` (see e2e/run.sh): ayla
// offers shoutouts from her monetization page, sam requests one from her
// profile on a phone-sized screen, finds it in his inbox with its deadline,
// ayla accepts it from her queue and uploads a real video with the progress
// bar, sam plays it, downloads it and reviews it, and sam cancels a second request through
// the page's own dialog. The demo world is shared by every browser test:
// balances are compared before and after, never assumed.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { TEST_TIMEOUT, launch, logIn, openPage, parseCount, shot } from '../lib.mjs';

/** A 1-second 64×64 H.264 video in MP4 (see internal/blob/testdata/README.md). */
const TINY_MP4 = fileURLToPath(new URL('../../internal/blob/testdata/tiny.mp4', import.meta.url));

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

    // ayla uploads a real video (H.264 in MP4) with the progress bar; the
    // page reloads once the API has the whole file and the request is delivered.
    await accepted.getByTestId('video-file').setInputFiles(TINY_MP4);
    await accepted.getByTestId('upload-send').click();
    await ayla.page.waitForFunction((rowID) => {
      const row = [...document.querySelectorAll('a')].find((a) => a.getAttribute('href') === `/shoutouts/${rowID}`);
      return row && /Delivered/.test(row.closest('li').textContent);
    }, id);
    await shot(ayla.page, '34-shoutout-queue-delivered');

    // sam finds it in his inbox and plays it.
    await page.goto('/shoutouts');
    assert.match(await page.getByTestId(`shoutout-${id}`).innerText(), /Delivered/);
    await page.goto(`/shoutouts/${id}`);
    assert.match(await page.getByTestId('state').innerText(), /Delivered/);
    const player = page.getByTestId('player');
    await player.scrollIntoViewIfNeeded();
    const played = await player.evaluate(async (video) => {
      video.muted = true;
      await video.play();
      await new Promise((resolve) => {
        const done = () => { if (video.currentTime > 0.2) resolve(); };
        video.addEventListener('timeupdate', done);
        done();
      });
      return { duration: video.duration, width: video.videoWidth, height: video.videoHeight, time: video.currentTime };
    });
    assert.ok(played.duration > 0.9 && played.duration < 1.5, `the 1-second video, got ${played.duration} s`);
    assert.deepEqual([played.width, played.height], [64, 64]);
    assert.ok(played.time > 0.2, `the video plays, at ${played.time} s`);
    await shot(page, '35-shoutout-delivered-mobile');

    // The download is the same bytes as an attachment.
    const href = await page.getByTestId('download').getAttribute('href');
    const download = await page.request.get(href);
    assert.equal(download.status(), 200);
    assert.match(download.headers()['content-disposition'], /^attachment/);
    assert.equal(download.headers()['content-type'], 'video/mp4');
    assert.deepEqual(Buffer.from(await download.body()), await readFile(TINY_MP4));

    // sam rates it; the review shows on ayla's profile.
    await page.getByTestId('star-5').check();
    await page.getByTestId('review-text').fill('Lina cried. Thank you Ayla!');
    await page.getByTestId('send-review').click();
    await page.waitForURL(`**/shoutouts/${id}?done=review`);
    assert.match(await page.getByTestId('review-form').innerText(), /Edit your review/);
    assert.equal(await page.getByTestId('review-text').inputValue(), 'Lina cried. Thank you Ayla!');
    await page.goto('/creators/ayla');
    assert.match(await page.getByTestId('rating').innerText(), /★ \(\d+ reviews?\)/);
    assert.match(await page.getByTestId('reviews').innerText(), /Lina cried\. Thank you Ayla!/);
    assert.doesNotMatch(await page.getByTestId('typical-delivery').innerText(), /No deliveries yet/);
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
