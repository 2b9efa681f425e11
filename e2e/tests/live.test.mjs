// The LIVE pages in a real browser, against `fanfare demo` (see e2e/run.sh),
// where ayla is LIVE from the start: who is on air, a LIVE's room with its
// gifts and chat, the creator's studio and a LIVE's summary.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PASSWORD, TEST_TIMEOUT, api, aylaRoom, balance, buy, launch, logIn, openPage, parseCount, shot, signUp, uniqueHandle } from '../lib.mjs';

const SUCCEEDS = '4242 4242 4242 4242';

/** A gift or message must reach the other pages of the room within this. */
const FEED_DEADLINE_MS = 2_000;

/** Waits until the page's room feed is connected (its state frame came). */
async function connected(page) {
  await page.locator('[data-conn].is-open').waitFor({ state: 'attached' });
}

/** The LIVE page's card of a creator, by their @handle. */
function liveCard(page, handle) {
  return page.getByTestId('live-list').getByRole('listitem').filter({ hasText: `@${handle}` });
}

/** The link of a LIVE page's card to the room (the creator's name links their profile). */
function roomLink(card) {
  return card.getByTestId('room-link');
}

/** The coin balance shown in a room's gift panel. */
async function roomBalance(page) {
  return parseCount(await page.getByTestId('room-balance').innerText());
}

describe('Fanfare LIVE pages', { timeout: TEST_TIMEOUT * 4 }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('sam sends Rose ×5 in ayla\'s LIVE: her studio and another viewer see it at once, his balance drops, the top gifters list him', { timeout: TEST_TIMEOUT }, async () => {
    // ayla, LIVE since the demo started, opens her studio.
    const ayla = await openPage(browser);
    await logIn(ayla.page, 'ayla');
    await ayla.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'LIVE' }).click();
    await ayla.page.waitForURL('**/live');
    await ayla.page.getByTestId('studio-link').click();
    await ayla.page.waitForURL('**/studio');
    await assert.doesNotReject(ayla.page.getByRole('heading', { name: 'Your LIVE' }).waitFor());
    assert.match(await ayla.page.getByTestId('stage').innerText(), /Sunday LIVE from Istanbul/);
    await connected(ayla.page);

    // A second viewer, logged out, finds her on the LIVE page.
    const viewer = await openPage(browser);
    await viewer.page.goto('/live');
    const card = liveCard(viewer.page, 'ayla');
    assert.match(await card.innerText(), /Sunday LIVE from Istanbul[\s\S]*Ayla Demir[\s\S]*@ayla[\s\S]*gifts so far/);
    await shot(viewer.page, '10-live-now');
    await roomLink(card).click();
    await viewer.page.waitForURL(/\/live\/[^/]+$/);
    const room = new URL(viewer.page.url()).pathname;
    await connected(viewer.page);
    // Watching is open to anyone; sending and chatting need a login.
    assert.equal(await viewer.page.getByTestId('login-to-gift').getAttribute('href'), `/login?next=${encodeURIComponent(room)}`);
    assert.match(await viewer.page.getByTestId('chat-login').innerText(), /Log in to chat/);
    assert.match(await viewer.page.getByTestId('gift-rose').innerText(), /Rose\s+1\s*coins?\s+€0\.02/);

    // sam logs in and opens the same room.
    const sam = await openPage(browser);
    await logIn(sam.page, 'sam');
    await sam.page.goto(room);
    await connected(sam.page);
    const before = await roomBalance(sam.page);
    assert.ok(before >= 5, `sam can send Rose ×5, has ${before}`);
    await viewer.page.waitForFunction(() => Number(document.querySelector('[data-viewers]').textContent) >= 2);

    // Rose ×5.
    await sam.page.getByTestId('gift-rose').click();
    await sam.page.getByTestId('count-5').click();
    assert.equal(await sam.page.locator('[data-gift-total]').innerText(), 'Rose ×5 · 5 coins');
    const line = (page) => page.getByTestId('feed').getByText('sam sent Rose ×5');
    const sent = Date.now();
    await sam.page.getByTestId('send-gift').click();
    await Promise.all([
      line(ayla.page).waitFor({ timeout: FEED_DEADLINE_MS }),
      line(viewer.page).waitFor({ timeout: FEED_DEADLINE_MS }),
      sam.page.waitForFunction((want) => document.querySelector('[data-testid="room-balance"]').textContent === want,
        (before - 5).toLocaleString('en-US'), { timeout: FEED_DEADLINE_MS }),
    ]);
    const elapsed = Date.now() - sent;
    assert.ok(elapsed <= FEED_DEADLINE_MS, `the gift took ${elapsed} ms to reach the room`);
    assert.equal(await roomBalance(sam.page), before - 5);
    assert.equal(parseCount((await sam.page.getByTestId('nav-balance').innerText()).replace(/coins/, '')), before - 5);
    assert.match(await sam.page.getByTestId('gift-status').innerText(), /You sent Rose ×5 \(5 coins\)/);

    // The top gifters list him everywhere, from the feed's leaderboard.
    for (const page of [ayla.page, viewer.page, sam.page]) {
      await page.getByTestId('top-gifters').getByText('@sam').waitFor({ timeout: FEED_DEADLINE_MS });
    }
    // The studio lists him to thank, by name, with what he sent.
    assert.match(await ayla.page.getByTestId('thank-list').locator('li').first().innerText(), /Sam Bernard\s+@sam\s+sent Rose ×5 · 5 coins/);
    // Its figures follow, from the API.
    await ayla.page.waitForFunction(() => Number(document.querySelector('[data-testid="studio-gifts"]').textContent.replace(/,/g, '')) >= 5);
    await shot(viewer.page, '11-room-viewer-gift');
    await shot(sam.page, '12-room-sam-sent');

    // Chat: sam's message reaches the studio; ayla's reply carries her badge.
    await sam.page.getByTestId('chat-input').fill('Hello from Paris!');
    await sam.page.getByTestId('chat-send').click();
    await ayla.page.getByTestId('feed').getByText('Hello from Paris!').waitFor({ timeout: FEED_DEADLINE_MS });
    await ayla.page.getByTestId('chat-input').fill('Thank you Sam for the roses!');
    await ayla.page.getByTestId('chat-send').click();
    const reply = sam.page.getByTestId('feed').locator('li').filter({ hasText: 'Thank you Sam for the roses!' });
    await reply.waitFor({ timeout: FEED_DEADLINE_MS });
    assert.match(await reply.innerText(), /Creator\s*ayla\s+Thank you Sam/i);
    await viewer.page.getByTestId('feed').getByText('Thank you Sam for the roses!').waitFor({ timeout: FEED_DEADLINE_MS });
    await shot(ayla.page, '13-studio');

    // The creator mutes sam from his chat line; his next message is refused.
    const mute = ayla.page.getByTestId('mute-sam').first();
    await mute.click();
    await ayla.page.waitForFunction(() => document.querySelector('[data-testid="mute-sam"]').textContent === 'Muted');
    await sam.page.getByTestId('chat-input').fill('Can you still hear me?');
    await sam.page.getByTestId('chat-send').click();
    await sam.page.getByTestId('chat-error').getByText(/muted you/).waitFor({ timeout: FEED_DEADLINE_MS });

    // sam tops up from the room's link to his wallet. (The other browser
    // tests share the demo world and expect sam's 27,000 coins or more.)
    await sam.page.getByRole('link', { name: 'Buy coins' }).click();
    await sam.page.waitForURL('**/wallet#buy');
    await buy(sam.page, 'eur-70', SUCCEEDS);
    await sam.page.waitForURL('**/wallet?bought=*');
    assert.equal(await balance(sam.page), before - 5 + 70);

    await Promise.all([ayla.finish(), viewer.finish(), sam.finish()]);
  });

  test('mia, 16, reads why she cannot send a gift before pressing Send', { timeout: TEST_TIMEOUT }, async () => {
    const mia = await openPage(browser, { viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    await logIn(mia.page, 'mia');
    await mia.page.goto('/live');
    await roomLink(liveCard(mia.page, 'ayla')).click();
    await mia.page.waitForURL(/\/live\/[^/]+$/);
    const before = await roomBalance(mia.page);
    // Her gift panel shows lira.
    assert.match(await mia.page.getByTestId('gift-rose').innerText(), /₺0\.57/);

    // She reads why before pressing anything: Send stays disabled by the
    // reason.
    await connected(mia.page);
    await mia.page.getByTestId('gift-doughnut').click();
    const send = mia.page.getByTestId('send-gift');
    assert.equal(await send.isDisabled(), true);
    const reason = mia.page.locator(`#${await send.getAttribute('aria-describedby')}`);
    assert.match(await reason.innerText(), /spending them on creators needs you to be 18 or older/);
    assert.equal(await roomBalance(mia.page), before);
    assert.equal(await mia.page.getByTestId('gift-status').innerText(), '');
    await shot(mia.page, '14-room-minor-mobile-dark');
    await mia.finish();
  });

  test('lea goes LIVE from her studio, ends it with the confirmation, and lands on its summary; her viewer is told it ended', { timeout: TEST_TIMEOUT }, async () => {
    const lea = await openPage(browser);
    await logIn(lea.page, 'lea');
    await lea.page.goto('/studio');
    await lea.page.getByLabel('Title').fill('Paris morning coffee');
    await shot(lea.page, '15-studio-go-live');
    await lea.page.getByTestId('go-live').click();
    await lea.page.waitForURL('**/studio?started=1');
    assert.match(await lea.page.getByTestId('notice').innerText(), /You are LIVE!/);
    await connected(lea.page);

    // A viewer joins from the LIVE page, where both LIVEs now are.
    const viewer = await openPage(browser);
    await viewer.page.goto('/live');
    await liveCard(viewer.page, 'ayla').waitFor();
    await roomLink(liveCard(viewer.page, 'lea')).click();
    await viewer.page.waitForURL(/\/live\/[^/]+$/);
    const room = new URL(viewer.page.url()).pathname;
    await connected(viewer.page);

    // A new fan buys coins and sends a bigger gift, to see its overlay.
    const fan = await openPage(browser);
    const handle = uniqueHandle('fan');
    await signUp(fan.page, handle);
    await buy(fan.page, 'eur-350', SUCCEEDS);
    await fan.page.waitForURL('**/wallet?bought=*');
    await fan.page.goto(room);
    await connected(fan.page);
    await fan.page.getByTestId('gift-corgi').click();
    await fan.page.getByTestId('send-gift').click();
    const pop = viewer.page.locator('.gift-pop.tier-3');
    await pop.waitFor({ timeout: FEED_DEADLINE_MS });
    assert.match(await pop.innerText(), new RegExp(`${handle} sent Corgi ×1`));
    await lea.page.getByTestId('thank-list').getByText(`@${handle}`).waitFor({ timeout: FEED_DEADLINE_MS });
    assert.equal(await roomBalance(fan.page), 350 - 299);
    await shot(viewer.page, '16-room-overlay');

    // The page's own dialog asks; keeping on ends nothing.
    const dialog = lea.page.getByRole('dialog', { name: 'End your LIVE now?' });
    await lea.page.getByTestId('end-live').click();
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Keep going' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.match(lea.page.url(), /\/studio/);

    await lea.page.getByTestId('end-live').click();
    await dialog.getByRole('button', { name: 'End LIVE' }).click();
    await lea.page.waitForURL(`**${room}/summary`);
    assert.equal(await lea.page.getByRole('heading', { level: 1 }).innerText(), 'Your LIVE has ended');
    assert.equal(await lea.page.getByTestId('summary-gifts').innerText(), '1');
    assert.match(await lea.page.getByTestId('summary-coins').innerText(), /299/);
    assert.equal(await lea.page.getByTestId('summary-diamonds').innerText(), '149');
    assert.equal(await lea.page.getByTestId('summary-gifters').innerText(), '1');
    assert.ok(parseCount(await lea.page.getByTestId('summary-peak').innerText()) >= 1);
    assert.match(await lea.page.getByTestId('top-gifters').innerText(), new RegExp(`Test ${handle}\\s+@${handle}\\s+299`));
    await shot(lea.page, '17-live-summary');

    // The viewer's room says it ended and links the summary.
    const ended = viewer.page.getByTestId('live-ended');
    await ended.waitFor({ timeout: FEED_DEADLINE_MS });
    assert.match(await ended.innerText(), /This LIVE has ended/);
    // Nothing more can be sent there.
    await viewer.page.locator('[data-gift-panel]').waitFor({ state: 'hidden' });
    assert.equal(await viewer.page.getByTestId('chat-login').isVisible(), false);
    await shot(viewer.page, '18-room-ended');
    await ended.getByRole('link', { name: 'See its summary' }).click();
    await viewer.page.waitForURL(`**${room}/summary`);
    assert.match(await viewer.page.getByTestId('summary').innerText(), /Gifts\s+1/);

    await Promise.all([lea.finish(), viewer.finish(), fan.finish()]);
  });

  test('a viewer whose server restarts (close code 1012) is back in the room within seconds, with its state and no event twice', { timeout: TEST_TIMEOUT }, async () => {
    const room = await aylaRoom(browser, 'Back after the restart');
    const liveID = room.split('/').pop();
    const { token } = await api('POST', '/v1/auth/login', { handle: 'ayla', password: PASSWORD });
    await api('POST', `/v1/lives/${liveID}/chat`, { text: 'Before the restart' }, token);

    // The room feed goes through a route that stands for the server's side
    // of the socket: it can close it as a draining server does.
    const viewer = await openPage(browser);
    const sockets = [];
    await viewer.page.routeWebSocket(/\/v1\/lives\/[^/]+\/events$/, (ws) => {
      ws.connectToServer();
      sockets.push(ws);
    });
    await viewer.page.goto(room);
    await connected(viewer.page);
    const feed = viewer.page.getByTestId('feed');
    await feed.getByText('Before the restart').waitFor();
    const shown = await feed.locator('li').count();
    assert.equal(sockets.length, 1);

    const closed = Date.now();
    await sockets[0].close({ code: 1012, reason: 'the server is restarting: reconnect' });
    await viewer.page.locator('[data-conn].is-lost').getByText('The server is restarting').waitFor();
    await connected(viewer.page);
    const took = Date.now() - closed;
    assert.ok(took < 3_000, `back in the room after ${took} ms`);
    assert.equal(sockets.length, 2, 'one new connection');
    // The state frame repeats the recent events: none is shown twice.
    assert.equal(await feed.locator('li').count(), shown);
    assert.equal(await feed.getByText('Before the restart').count(), 1);

    // The new feed carries the room on.
    await api('POST', `/v1/lives/${liveID}/chat`, { text: 'After the restart' }, token);
    await feed.getByText('After the restart').waitFor({ timeout: FEED_DEADLINE_MS });
    await viewer.finish();
  });
});
