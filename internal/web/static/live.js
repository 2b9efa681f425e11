// A LIVE's room and the creator's studio. The page is rendered on the
// server; this script keeps it current from the room feed (a WebSocket:
// viewers, gifts with their overlays, chat with its badges and emotes,
// gifted subscriptions, the chat's mode, top gifters, the end of the LIVE),
// sends gifts and gifted subscriptions through the JSON API and chat over
// the socket. User text is only ever set as text: messages with emotes are
// built node by node.
(function () {
  'use strict';
  var app = document.querySelector('.live-app[data-live]');
  if (!app) return;

  var mode = app.getAttribute('data-mode'); // "room" or "studio"
  var creator = app.getAttribute('data-creator') || '';
  var me = app.getAttribute('data-me') || '';
  var sprite = app.getAttribute('data-sprite');
  var icons = (app.getAttribute('data-icons') || '').split(' ');
  var over = app.getAttribute('data-ended') === 'true';
  var catalog = {};
  try { catalog = JSON.parse(app.getAttribute('data-catalog') || '{}'); } catch (e) { /* names fall back to ids */ }

  function find(selector) { return app.querySelector(selector); }
  var els = {
    viewers: find('[data-viewers]'),
    overlays: find('[data-overlays]'),
    conn: find('[data-conn]'),
    feed: find('[data-feed]'),
    feedEmpty: find('[data-feed-empty]'),
    board: find('[data-leaderboard]'),
    boardEmpty: find('[data-leaderboard-empty]'),
    ended: find('[data-ended-banner]'),
    chatForm: find('[data-chat-form]'),
    chatError: find('[data-chat-error]'),
    chatNotice: find('[data-chat-mode-notice]'),
    chatLocked: find('[data-chat-locked]'),
    modeForm: find('[data-chat-mode-form]'),
    giftForm: find('[data-gift-form]'),
    thanks: find('[data-thanks]'),
    thanksEmpty: find('[data-thanks-empty]'),
  };

  // --- Small helpers ----------------------------------------------------------

  var numbers = new Intl.NumberFormat(document.documentElement.lang || 'en');
  function num(n) { return numbers.format(n); }
  function coinsText(n) { return num(n) + (n === 1 ? ' coin' : ' coins'); }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function link(href, text) {
    var a = el('a', '', text);
    a.href = href;
    return a;
  }

  // sentence makes a service message read as a sentence, as the pages do.
  function sentence(s) {
    s = String(s || '').trim();
    if (!s) return s;
    s = s.charAt(0).toUpperCase() + s.slice(1);
    return /[.?!]$/.test(s) ? s : s + '.';
  }

  var SVG = 'http://www.w3.org/2000/svg';
  function giftIcon(id, tier) {
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'gift-icon tier-' + tier);
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    var use = document.createElementNS(SVG, 'use');
    use.setAttribute('href', sprite + '#' + (icons.indexOf(id) >= 0 ? id : 'gift'));
    svg.appendChild(use);
    return svg;
  }

  function tierOf(ev) { return Math.min(5, Math.max(1, ev.tier | 0)); }

  // uuid is a fresh idempotency key (crypto.randomUUID needs a secure
  // context; getRandomValues does not).
  function uuid() {
    if (window.crypto && crypto.randomUUID) {
      try { return crypto.randomUUID(); } catch (e) { /* not a secure context */ }
    }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  // The visitor's balance, as the page shows it (the gift panel, the Gift
  // subscriptions dialog, the navigation).
  function balanceShown() {
    var b = app.querySelector('[data-balance]');
    return b ? parseInt(b.textContent.replace(/[^\d]/g, ''), 10) : NaN;
  }
  function setBalance(n) {
    if (typeof n !== 'number') return;
    document.querySelectorAll('[data-balance], .balance-pill .num').forEach(function (e) {
      e.textContent = (n < 0 ? '\u2212' : '') + num(Math.abs(n));
    });
    document.querySelectorAll('[data-balance-unit]').forEach(function (e) {
      e.textContent = Math.abs(n) === 1 ? 'coin' : 'coins';
    });
  }

  var clock = window.Intl && Intl.DateTimeFormat ? new Intl.DateTimeFormat(undefined, { timeStyle: 'short' }) : null;
  function timeOf(at) {
    var d = new Date(at);
    return clock && !isNaN(d.getTime()) ? clock.format(d) : '';
  }

  // --- What the feed shows --------------------------------------------------------

  // An event seen already (the state frame after a reconnection repeats
  // the recent ones) is not shown twice.
  var seen = new Set();
  function firstTime(ev) {
    var key = [ev.type, ev.at, ev.gifter || ev.author, ev.gift_id || '', ev.combo || '', ev.text || '',
      (ev.recipients || []).join(',')].join('|');
    if (seen.has(key)) return false;
    seen.add(key);
    if (seen.size > 500) seen.delete(seen.values().next().value);
    return true;
  }

  function setViewers(n) {
    if (els.viewers) els.viewers.textContent = num(n);
  }

  var MAX_FEED = 150;
  function pushFeed(li) {
    var f = els.feed;
    if (!f) return;
    var stick = f.scrollHeight - f.scrollTop - f.clientHeight < 40;
    f.appendChild(li);
    while (f.children.length > MAX_FEED) f.removeChild(f.firstChild);
    if (els.feedEmpty) els.feedEmpty.hidden = true;
    if (stick) f.scrollTop = f.scrollHeight;
  }

  var BADGES = { creator: 'Creator', subscriber: 'Subscriber', moderator: 'Mod' };

  // badgeTag is a chat badge: a subscriber's shows their tenure step
  // ("Sub 3 mo"), and says it in full to screen readers.
  function badgeTag(b, ev) {
    var tag = el('span', 'badge-tag badge-' + b);
    var sub = ev.subscriber;
    if (b === 'subscriber' && sub && sub.badge > 0) {
      tag.classList.add('badge-step-' + sub.badge);
      var shown = el('span', '', 'Sub ' + num(sub.badge) + ' mo');
      shown.setAttribute('aria-hidden', 'true');
      tag.appendChild(shown);
      var months = sub.months === 1 ? '1 month' : num(sub.months) + ' months';
      tag.appendChild(el('span', 'visually-hidden', 'Subscriber for ' + months + ','));
      tag.title = 'Subscriber for ' + months;
      return tag;
    }
    tag.textContent = BADGES[b] || b;
    return tag;
  }

  // emotePieces finds the emotes a text uses, as the server does
  // (live.EmoteNames): each ":name:" that known accepts, read from left to
  // right; a colon that closes an emote does not open another. It returns
  // the text's pieces: strings and {emote: name}.
  function emotePieces(text, known) {
    var out = [];
    var from = 0;
    var i = 0;
    while (i < text.length) {
      if (text.charAt(i) !== ':') { i++; continue; }
      var j = text.indexOf(':', i + 1);
      if (j < 0) break;
      var name = text.slice(i + 1, j);
      if (name && Object.prototype.hasOwnProperty.call(known, name)) {
        if (i > from) out.push(text.slice(from, i));
        out.push({ emote: name });
        i = j + 1;
        from = i;
        continue;
      }
      i = j;
    }
    if (from < text.length) out.push(text.slice(from));
    return out;
  }

  // safePath keeps an emote's URL only when it is a path of this site.
  function safePath(u) {
    return typeof u === 'string' && u.charAt(0) === '/' && u.charAt(1) !== '/' && u.charAt(1) !== '\\' ? u : '';
  }

  // chatText is a message's text, with its emotes as pictures.
  function chatText(ev) {
    var span = el('span', 'feed-text');
    var known = {};
    (ev.emotes || []).forEach(function (e) {
      var src = safePath(e && e.url);
      if (e && e.name && src) known[e.name] = src;
    });
    emotePieces(String(ev.text || ''), known).forEach(function (p) {
      if (typeof p === 'string') {
        span.appendChild(document.createTextNode(p));
        return;
      }
      var img = document.createElement('img');
      img.className = 'emote';
      img.src = known[p.emote];
      img.alt = ':' + p.emote + ':';
      img.title = p.emote;
      img.width = 28;
      img.height = 28;
      img.loading = 'lazy';
      img.decoding = 'async';
      span.appendChild(img);
    });
    return span;
  }

  function addChat(ev) {
    var li = el('li', 'feed-chat');
    (ev.badges || []).forEach(function (b) {
      li.appendChild(badgeTag(b, ev));
    });
    var who = el('span', 'feed-who', ev.author);
    who.title = ev.author_name || '';
    li.appendChild(who);
    li.appendChild(document.createTextNode(' '));
    li.appendChild(chatText(ev));
    if (mode === 'studio' && ev.author && ev.author !== app.getAttribute('data-me')) {
      li.appendChild(muteButton(ev.author));
    }
    pushFeed(li);
  }

  // A tip to the creator during the LIVE: a line of the feed, with its
  // message.
  function addTip(ev) {
    var li = el('li', 'feed-tip');
    li.setAttribute('data-testid', 'feed-tip');
    var who = el('span', 'feed-who', ev.tipper);
    who.title = ev.tipper_name || '';
    li.appendChild(who);
    li.appendChild(document.createTextNode(' tipped ' + coinsText(ev.coins)));
    if (ev.message) {
      li.appendChild(document.createTextNode(': '));
      li.appendChild(el('span', 'feed-text', ev.message));
    }
    pushFeed(li);
  }

  // Subscriptions a viewer gifted to others in the room: a line of the
  // feed ("sam gifted 3 subscriptions to @ayla's Fan club: @a, @b, @c"),
  // and in the studio a line of the gifters to thank.
  function giftedText(ev) {
    var n = ev.count | 0;
    var what = n === 1 ? 'a subscription' : num(n) + ' subscriptions';
    var whose = '';
    if (mode === 'studio') whose = 'your ';
    else if (creator) whose = '@' + creator + '\u2019s ';
    if (ev.tier_name) what += ' to ' + whose + ev.tier_name;
    else if (mode === 'studio') what += ' to your subscription';
    else if (creator) what += ' to @' + creator;
    var to = (ev.recipients || []).map(function (h) { return '@' + h; }).join(', ');
    return ' gifted ' + what + (to ? ': ' + to : '');
  }

  function addGifted(ev, fresh) {
    var li = el('li', 'feed-gifted');
    li.setAttribute('data-testid', 'feed-gifted');
    var who = el('strong', 'feed-who', ev.gifter);
    who.title = ev.gifter_name || '';
    li.appendChild(who);
    li.appendChild(document.createTextNode(giftedText(ev)));
    if (me && mode === 'room' && (ev.recipients || []).indexOf(me) >= 0) {
      li.appendChild(document.createTextNode(' '));
      li.appendChild(el('strong', 'feed-you', 'One is yours!'));
    }
    pushFeed(li);
    if (!els.thanks) return;
    var t = el('li');
    var body = el('span', 'thank-body');
    body.appendChild(el('strong', '', ev.gifter_name || ev.gifter));
    body.appendChild(document.createTextNode(' '));
    body.appendChild(el('span', 'muted', '@' + ev.gifter));
    body.appendChild(el('span', 'thank-what', giftedText(ev)));
    t.appendChild(body);
    t.appendChild(el('span', 'thank-time', timeOf(ev.at)));
    if (fresh) t.classList.add('is-new');
    els.thanks.insertBefore(t, els.thanks.firstChild);
    while (els.thanks.children.length > MAX_THANKS) els.thanks.removeChild(els.thanks.lastChild);
    if (els.thanksEmpty) els.thanksEmpty.hidden = true;
    lastThanks = null;
  }

  // The chat's mode: in subscriber-only mode the room says so, and a
  // visitor who may not chat then finds the input disabled, with the
  // reason. The studio's switch follows it.
  var subscribersOnly = false;
  function setChatMode(on) {
    subscribersOnly = !!on;
    if (els.chatNotice) els.chatNotice.hidden = !subscribersOnly;
    var member = !els.chatForm || els.chatForm.getAttribute('data-chat-member') === 'true';
    var locked = subscribersOnly && !member;
    if (els.chatForm && !over) {
      var input = els.chatForm.elements.text;
      input.disabled = locked;
      if (locked) input.setAttribute('aria-describedby', 'chat-locked'); else input.removeAttribute('aria-describedby');
      els.chatForm.querySelector('button').disabled = locked;
    }
    if (els.chatLocked) els.chatLocked.hidden = !locked;
    if (locked && els.chatError) els.chatError.hidden = true;
    if (els.modeForm) els.modeForm.elements.subscribers_only.checked = subscribersOnly;
  }

  // In the studio, the creator can mute a viewer from their chat line: they
  // can no longer chat in this LIVE.
  var muted = new Set();
  function muteButton(handle) {
    var b = el('button', 'feed-mute', muted.has(handle) ? 'Muted' : 'Mute');
    b.type = 'button';
    b.title = 'Mute @' + handle + ' in this LIVE';
    b.setAttribute('data-testid', 'mute-' + handle);
    b.disabled = muted.has(handle);
    b.addEventListener('click', function () {
      b.disabled = true;
      fetch(app.getAttribute('data-live-url') + '/mutes', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, application/problem+json' },
        body: JSON.stringify({ handle: handle }),
      }).then(function (res) {
        if (res.ok) {
          muted.add(handle);
          app.querySelectorAll('[data-testid="mute-' + handle + '"]').forEach(function (x) {
            x.textContent = 'Muted';
            x.disabled = true;
          });
          return;
        }
        return res.json().catch(function () { return null; }).then(function (p) {
          b.disabled = false;
          b.title = sentence(p && p.detail ? p.detail : 'Could not mute @' + handle + '; try again');
        });
      }).catch(function () {
        b.disabled = false;
      });
    });
    return b;
  }

  // A gifter repeating a gift continues their line ("sam sent Rose ×15")
  // rather than adding one per frame.
  var giftLines = new Map();
  function addGift(ev) {
    var key = ev.gifter + '|' + ev.gift_id;
    var prev = giftLines.get(key);
    var li, n;
    if (prev && prev.li.isConnected && ev.combo - ev.count === prev.combo) {
      li = prev.li;
      n = prev.n + ev.count;
      li.textContent = '';
    } else {
      li = el('li', 'feed-gift');
      n = ev.count;
    }
    li.appendChild(giftIcon(ev.gift_id, tierOf(ev)));
    var text = el('span', 'feed-text');
    text.appendChild(el('strong', 'feed-who', ev.gifter));
    text.appendChild(document.createTextNode(' sent ' + ev.gift + ' ×' + num(n)));
    if (ev.combo > n) {
      text.appendChild(document.createTextNode(' '));
      text.appendChild(el('span', 'feed-combo', 'combo ×' + num(ev.combo)));
    }
    li.appendChild(text);
    giftLines.set(key, { li: li, n: n, combo: ev.combo });
    pushFeed(li);
  }

  // Overlays: bigger gifts play bigger and longer (the sizes are in the
  // stylesheet, per tier).
  var DURATION = { 1: 2600, 2: 3200, 3: 4200, 4: 5400, 5: 7000 };
  var MAX_OVERLAYS = 4;
  var overlays = new Map();
  function overlay(ev) {
    if (!els.overlays) return;
    var tier = tierOf(ev);
    var key = ev.gifter + '|' + ev.gift_id;
    var old = overlays.get(key);
    if (old) old.remove();
    while (els.overlays.children.length >= MAX_OVERLAYS) els.overlays.removeChild(els.overlays.firstChild);
    var pop = el('div', 'gift-pop tier-' + tier);
    pop.style.setProperty('--dur', DURATION[tier] + 'ms');
    pop.appendChild(giftIcon(ev.gift_id, tier));
    var p = el('p', 'pop-text');
    p.appendChild(el('strong', '', ev.gifter));
    p.appendChild(document.createTextNode(' sent ' + ev.gift + ' ×' + num(ev.count)));
    pop.appendChild(p);
    if (ev.combo > ev.count) pop.appendChild(el('span', 'pop-combo', 'combo ×' + num(ev.combo)));
    els.overlays.appendChild(pop);
    overlays.set(key, pop);
    var done = function () {
      pop.remove();
      if (overlays.get(key) === pop) overlays.delete(key);
    };
    pop.addEventListener('animationend', function (e) { if (e.target === pop) done(); });
    window.setTimeout(done, DURATION[tier] + 400);
  }

  function renderBoard(top) {
    if (!els.board) return;
    els.board.textContent = '';
    top.forEach(function (g) {
      var li = el('li');
      var name = el('span', 'lb-name');
      name.appendChild(el('strong', '', g.display_name || g.handle));
      name.appendChild(document.createTextNode(' '));
      name.appendChild(el('span', 'muted', '@' + g.handle));
      var coins = el('span', 'lb-coins');
      var coin = el('span', 'coin');
      coin.setAttribute('aria-hidden', 'true');
      coins.appendChild(coin);
      coins.appendChild(document.createTextNode(num(g.coins)));
      coins.appendChild(el('span', 'visually-hidden', ' coins'));
      li.appendChild(name);
      li.appendChild(document.createTextNode(' '));
      li.appendChild(coins);
      els.board.appendChild(li);
    });
    if (els.boardEmpty) els.boardEmpty.hidden = top.length > 0;
  }

  // The studio's thank list: who sent what, newest first.
  var MAX_THANKS = 50;
  var lastThanks = null;
  function addThanks(ev, fresh) {
    if (!els.thanks) return;
    var key = ev.gifter + '|' + ev.gift_id;
    var li, n, coins;
    if (lastThanks && lastThanks.key === key && lastThanks.li === els.thanks.firstChild && ev.combo - ev.count === lastThanks.combo) {
      li = lastThanks.li;
      n = lastThanks.n + ev.count;
      coins = lastThanks.coins + ev.coins;
      li.textContent = '';
    } else {
      li = el('li');
      n = ev.count;
      coins = ev.coins;
    }
    li.appendChild(giftIcon(ev.gift_id, tierOf(ev)));
    var body = el('span', 'thank-body');
    body.appendChild(el('strong', '', ev.gifter_name || ev.gifter));
    body.appendChild(document.createTextNode(' '));
    body.appendChild(el('span', 'muted', '@' + ev.gifter));
    body.appendChild(el('span', 'thank-what', ' sent ' + ev.gift + ' ×' + num(n) + ' · ' + coinsText(coins)));
    li.appendChild(body);
    li.appendChild(el('span', 'thank-time', timeOf(ev.at)));
    if (fresh) {
      li.classList.remove('is-new');
      void li.offsetWidth; // restarts the highlight
      li.classList.add('is-new');
    }
    els.thanks.insertBefore(li, els.thanks.firstChild);
    while (els.thanks.children.length > MAX_THANKS) els.thanks.removeChild(els.thanks.lastChild);
    if (els.thanksEmpty) els.thanksEmpty.hidden = true;
    lastThanks = { key: key, li: li, n: n, coins: coins, combo: ev.combo };
  }

  // The studio's figures come from the API after gifts arrive, so that
  // diamonds are the ledger's, not an estimate.
  var statsTimer = 0;
  function refreshStats() {
    var url = app.getAttribute('data-live-url');
    if (!url) return;
    window.clearTimeout(statsTimer);
    statsTimer = window.setTimeout(function () {
      fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (l) {
          if (!l) return;
          ['gifts', 'coins', 'diamonds'].forEach(function (k) {
            var dd = app.querySelector('[data-stat="' + k + '"]');
            if (dd && typeof l[k] === 'number') dd.textContent = num(l[k]);
          });
        })
        .catch(function () { /* the next gift tries again */ });
    }, 500);
  }

  // complete fills in what a gift event leaves to the catalog (its name,
  // tier and coins) and to its frame (its time).
  function complete(ev, at) {
    if (!ev.at) ev.at = at;
    if (ev.type === 'gift') {
      var g = catalog[ev.gift_id] || { name: ev.gift_id, tier: 1, coins: 0 };
      ev.gift = g.name;
      ev.tier = g.tier;
      ev.coins = g.coins * ev.count;
    }
    return ev;
  }

  function handle(ev, live) {
    switch (ev.type) {
      case 'gift':
        if (!firstTime(ev)) return;
        addGift(ev);
        addThanks(ev, live);
        if (live) {
          overlay(ev);
          refreshStats();
        }
        break;
      case 'chat':
        if (firstTime(ev)) addChat(ev);
        break;
      case 'tip':
        if (firstTime(ev)) addTip(ev);
        break;
      case 'gifted_subscriptions':
        if (firstTime(ev)) addGifted(ev, live);
        break;
      case 'chat_mode':
        setChatMode(ev.subscribers_only);
        break;
      case 'viewers':
        setViewers(ev.count);
        break;
      case 'leaderboard':
        renderBoard(ev.top || []);
        break;
      case 'live_ended':
        ended();
        break;
    }
  }

  function ended() {
    over = true;
    setViewers(0);
    window.clearTimeout(retryTimer);
    app.classList.add('is-ended');
    if (els.ended) els.ended.hidden = false;
    setConn('', '');
    var badge = find('[data-live-badge]');
    if (badge) badge.textContent = 'ENDED';
    app.querySelectorAll('[data-gift-form] button, [data-chat-form] input, [data-chat-form] button, [data-testid="end-live"]').forEach(function (b) {
      b.disabled = true;
    });
    // Nothing more can be sent: the gift panel and the chat form go.
    app.querySelectorAll('[data-gift-panel], [data-gift-subs-panel], [data-chat-form], [data-chat-login], [data-chat-error]').forEach(function (e) {
      e.hidden = true;
    });
    var subs = find('[data-gift-subs-dialog]');
    if (subs) {
      subs.querySelectorAll('[data-gift-subs-form] button[type="submit"]').forEach(function (b) { b.disabled = true; });
      if (subs.open && subs.close) subs.close();
    }
    if (els.overlays) els.overlays.textContent = '';
  }

  // --- The socket -------------------------------------------------------------------

  var ws = null;
  var attempts = 0;
  var retryTimer = 0;

  function setConn(text, state) {
    if (!els.conn) return;
    els.conn.textContent = text;
    els.conn.className = 'conn' + (state ? ' is-' + state : '');
  }

  function feedURL() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + app.getAttribute('data-events');
  }

  function connect() {
    if (over) return;
    window.clearTimeout(retryTimer);
    setConn(attempts ? 'Reconnecting…' : 'Connecting to the room…', 'connecting');
    var sock;
    try {
      sock = new WebSocket(feedURL());
    } catch (e) {
      retry();
      return;
    }
    ws = sock;
    sock.onmessage = function (m) {
      var f;
      try { f = JSON.parse(m.data); } catch (e) { return; }
      if (f.type === 'state') {
        attempts = 0;
        setConn('', 'open');
        setViewers(f.viewers);
        renderBoard(f.leaderboard || []);
        setChatMode(f.subscribers_only);
        (f.recent || []).forEach(function (ev) { handle(complete(ev), false); });
        if (f.ended) ended();
        return;
      }
      if (f.type === 'error') {
        showChatError(f);
        return;
      }
      (f.events || []).forEach(function (ev) { handle(complete(ev, f.at), true); });
    };
    sock.onclose = function (e) {
      if (ws === sock) ws = null;
      if (over) return;
      if (e.code === SERVICE_RESTART) restarted();
      else retry();
    };
  }

  // SERVICE_RESTART is the close code of a server that drains on its way
  // down: another one (behind the same address) has the room already.
  var SERVICE_RESTART = 1012;

  // restarted connects again soon, at a random moment of the next two
  // seconds, so that a node's viewers spread over the others rather than
  // all arrive at once; the room's state frame then brings the page up to
  // date. Should that fail, retry backs off as usual.
  function restarted() {
    attempts = 1;
    var delay = 200 + Math.random() * 1800;
    setConn('The server is restarting: reconnecting…', 'lost');
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(connect, delay);
  }

  // retry connects again after 1, 2, 4... up to 30 seconds, give or take
  // a quarter so that a room's viewers do not all come back at once.
  function retry() {
    attempts++;
    var delay = Math.min(30000, 1000 * Math.pow(2, attempts - 1)) * (0.75 + Math.random() * 0.5);
    setConn('Connection lost: reconnecting in ' + Math.ceil(delay / 1000) + ' s…', 'lost');
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(connect, delay);
  }

  window.addEventListener('online', function () {
    if (!ws && !over) connect();
  });

  // --- Chat ---------------------------------------------------------------------------

  function showChatError(f) {
    if (!els.chatError) return;
    var msg;
    switch (f.code) {
      case 'unauthorized': msg = 'Log in to chat.'; break;
      case 'invalid_state': msg = 'This LIVE has ended.'; break;
      case 'subscribers_only':
        // The mode changed before this page heard of it, or the
        // subscription ended: the chat locks, with the reason.
        if (els.chatForm) els.chatForm.setAttribute('data-chat-member', 'false');
        setChatMode(true);
        msg = sentence(f.detail) || 'Only subscribers can chat right now.';
        break;
      default: msg = sentence(f.detail) || 'Your message could not be sent.';
    }
    els.chatError.textContent = msg;
    els.chatError.hidden = false;
  }

  if (els.chatForm) {
    els.chatForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var input = els.chatForm.elements.text;
      var text = input.value.trim();
      if (!text) return;
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        showChatError({ detail: 'you are not connected to the room right now, so your message was not sent; try again in a moment' });
        return;
      }
      ws.send(JSON.stringify({ type: 'chat', text: text }));
      input.value = '';
      if (els.chatError) els.chatError.hidden = true;
    });
  }

  // The studio's subscriber-only switch: with the script it applies at
  // once through the API (the form posts it without the script).
  if (els.modeForm) {
    var modeBox = els.modeForm.elements.subscribers_only;
    var modeStatus = els.modeForm.querySelector('[data-chat-mode-status]');
    var modeSave = els.modeForm.querySelector('[data-chat-mode-save]');
    if (modeSave) modeSave.hidden = true;
    subscribersOnly = modeBox.checked;
    var applyMode = function () {
      var want = modeBox.checked;
      modeBox.disabled = true;
      modeStatus.textContent = want ? 'Turning subscribers-only chat on…' : 'Turning subscribers-only chat off…';
      fetch(app.getAttribute('data-live-url') + '/chat-mode', {
        method: 'PUT',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, application/problem+json' },
        body: JSON.stringify({ subscribers_only: want }),
      }).then(function (res) {
        return res.json().catch(function () { return null; }).then(function (body) {
          if (res.ok && body) {
            setChatMode(body.subscribers_only);
            modeStatus.textContent = body.subscribers_only
              ? 'Subscribers-only chat is on: only you and your subscribers can chat.'
              : 'Subscribers-only chat is off: everyone logged in can chat.';
            return;
          }
          modeBox.checked = subscribersOnly;
          modeStatus.textContent = sentence(body && body.detail ? body.detail : 'the chat mode could not be changed; try again');
        });
      }, function () {
        modeBox.checked = subscribersOnly;
        modeStatus.textContent = 'Fanfare could not be reached, so the chat mode did not change. Try again.';
      }).then(function () {
        modeBox.disabled = over;
      });
    };
    modeBox.addEventListener('change', applyMode);
    els.modeForm.addEventListener('submit', function (e) {
      e.preventDefault();
      applyMode();
    });
  }

  // --- Gifts ----------------------------------------------------------------------------

  var form = els.giftForm;
  if (form) {
    var send = form.querySelector('button[type="submit"]');
    // The page says why the visitor cannot spend (under 18, a frozen
    // wallet, the rules of gifts): Send stays disabled next to the reason.
    var blocked = !!(send && send.hasAttribute('data-cannot-spend'));
    var total = form.querySelector('[data-gift-total]');
    var status = form.querySelector('[data-gift-status]');
    var error = form.querySelector('[data-gift-error]');
    var busy = false;
    // A send that got no answer (the network failed) is tried again with
    // its key, so that it counts once if it had gone through after all.
    var unanswered = null;

    var choice = function () {
      var g = form.querySelector('input[name="gift_id"]:checked');
      var c = form.querySelector('input[name="count"]:checked');
      if (!g || !c) return null;
      var count = parseInt(c.value, 10);
      return { id: g.value, name: g.getAttribute('data-name'), count: count, coins: parseInt(g.getAttribute('data-coins'), 10) * count };
    };
    var showTotal = function () {
      var c = choice();
      if (total) total.textContent = c ? c.name + ' ×' + num(c.count) + ' · ' + coinsText(c.coins) : '';
    };
    form.addEventListener('change', showTotal);
    showTotal();

    var showError = function (body, httpStatus, c) {
      var code = body && body.code;
      var detail = body && body.detail;
      var p = el('p');
      switch (code) {
        case 'insufficient_funds':
          var have = balanceShown();
          p.appendChild(document.createTextNode('You don\u2019t have enough coins: ' + c.name + ' ×' + num(c.count) + ' costs ' +
            coinsText(c.coins) + (isNaN(have) ? '' : ' and you have ' + coinsText(have)) + '. '));
          p.appendChild(link('/wallet#buy', 'Buy coins in your wallet'));
          break;
        case 'wallet_frozen':
          p.appendChild(document.createTextNode(sentence(detail) + ' '));
          p.appendChild(link('/wallet', 'Open your wallet'));
          break;
        case 'spend_limit_exceeded':
          p.appendChild(document.createTextNode(sentence(detail) + ' '));
          p.appendChild(link('/settings#spend-limit', 'Your spending limit'));
          break;
        case 'unauthorized':
          p.appendChild(document.createTextNode('Your session has ended, so no gift was sent. '));
          p.appendChild(link('/login?next=' + encodeURIComponent(location.pathname), 'Log in again'));
          break;
        case 'invalid_state':
          p.textContent = 'This LIVE has ended, so no gift was sent.';
          break;
        default:
          if (detail) p.textContent = sentence(detail);
          else if (httpStatus === 0) p.textContent = 'Fanfare could not be reached, so no gift was sent. Check your connection and try again.';
          else p.textContent = 'Something went wrong and no gift was sent. Please try again.';
      }
      error.textContent = '';
      error.appendChild(p);
      error.hidden = false;
      toast(p.cloneNode(true), true);
    };

    // Toasts: the result of a send at the bottom of the screen, wherever
    // the page is scrolled; successes go after a few seconds, a refusal
    // stays until closed or the next send. The inline lines under the
    // button say the same for whoever looks there.
    var toasts = app.querySelector('[data-toasts]');
    var toastTimer = 0;
    var clearToasts = function () {
      window.clearTimeout(toastTimer);
      if (!toasts) return;
      toasts.querySelectorAll('[data-toast-status], [data-toast-alert]').forEach(function (r) { r.textContent = ''; });
    };
    var toast = function (content, failed) {
      if (!toasts) return;
      clearToasts();
      var t = el('div', 'toast ' + (failed ? 'toast-error' : 'toast-success'));
      t.setAttribute('data-testid', failed ? 'toast-error' : 'toast-success');
      var body = el('div', 'toast-body');
      if (typeof content === 'string') body.appendChild(el('p', '', content)); else body.appendChild(content);
      t.appendChild(body);
      var close = el('button', 'toast-close', '\u00d7');
      close.type = 'button';
      close.setAttribute('aria-label', 'Dismiss');
      close.addEventListener('click', clearToasts);
      t.appendChild(close);
      toasts.querySelector(failed ? '[data-toast-alert]' : '[data-toast-status]').appendChild(t);
      if (!failed) toastTimer = window.setTimeout(clearToasts, 5000);
    };
    // stageInView brings the stage back on screen after a send, when it is
    // scrolled out of sight, so the sender sees their gift play.
    var stageInView = function () {
      var screen = app.querySelector('.stage-screen');
      if (!screen) return;
      var r = screen.getBoundingClientRect();
      var header = document.querySelector('.site-header');
      var top = header ? header.getBoundingClientRect().bottom : 0;
      if (r.bottom - r.height / 3 < top || r.top + r.height / 3 > window.innerHeight) {
        screen.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
      }
    };

    if (send) send.disabled = over || blocked;
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var c = choice();
      if (!send || busy || over || blocked || !c) return;
      var key = unanswered && unanswered.id === c.id && unanswered.count === c.count ? unanswered.key : uuid();
      busy = true;
      send.disabled = true;
      send.classList.add('is-busy');
      error.hidden = true;
      clearToasts();
      status.textContent = 'Sending ' + c.name + ' ×' + num(c.count) + '…';
      fetch(form.getAttribute('data-gifts-url'), {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, application/problem+json', 'Idempotency-Key': key },
        body: JSON.stringify({ gift_id: c.id, count: c.count }),
      }).then(function (res) {
        return res.json().catch(function () { return null; }).then(function (body) {
          unanswered = res.status >= 500 ? { key: key, id: c.id, count: c.count } : null;
          if (res.ok && body) {
            setBalance(body.balance);
            status.textContent = 'You sent ' + c.name + ' ×' + num(c.count) + ' (' + coinsText(body.coins) + ').';
            toast(status.textContent, false);
            stageInView();
          } else {
            status.textContent = '';
            showError(body, res.status, c);
          }
        });
      }, function () {
        unanswered = { key: key, id: c.id, count: c.count };
        status.textContent = '';
        showError(null, 0, c);
      }).then(function () {
        busy = false;
        send.disabled = over || blocked;
        send.classList.remove('is-busy');
      });
    });
  }

  // --- Gifted subscriptions --------------------------------------------------------------

  // The Gift subscriptions dialog: a tier, a count (a quick choice or any
  // number within the service's bounds), the total in coins and in the
  // visitor's currency, then the API with a fresh idempotency key. The
  // outcome shows in the dialog: who received one, or why nothing was
  // gifted (and no coins taken).
  var subsDialog = find('[data-gift-subs-dialog]');
  var subsForm = subsDialog && subsDialog.querySelector('[data-gift-subs-form]');
  var subsOpen = find('[data-open-gift-subs]');
  if (subsDialog && subsForm && subsOpen && typeof subsDialog.showModal === 'function') {
    var subsConfirm = subsForm.querySelector('button[type="submit"]');
    var subsBlocked = subsConfirm.hasAttribute('data-cannot-spend');
    var subsTotal = subsForm.querySelector('[data-gift-subs-total]');
    var subsStatus = subsForm.querySelector('[data-gift-subs-status]');
    var subsError = subsForm.querySelector('[data-gift-subs-error]');
    var countInput = subsForm.elements.count;
    var maxCount = parseInt(subsForm.getAttribute('data-max'), 10) || 100;
    var rate = parseInt(subsForm.getAttribute('data-rate'), 10);
    var prefix = subsForm.getAttribute('data-prefix') || '';
    var subsBusy = false;
    // A gift that got no answer is sent again with its key, so that it
    // counts once if it had gone through after all.
    var subsUnanswered = null;

    // money writes a fiat value of total coins as the server does
    // (wallet.Catalog.FiatValue, then formatMoney): half up, in minor units.
    var money = function (coins) {
      if (isNaN(rate)) return '';
      var minor = Math.floor(coins / 100) * rate + Math.floor((2 * (coins % 100) * rate + 100) / 200);
      var units = String(Math.floor(minor / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
      var cents = minor % 100;
      return prefix + units + '.' + (cents < 10 ? '0' : '') + cents;
    };
    var subsText = function (n) { return n === 1 ? '1 subscription' : num(n) + ' subscriptions'; };

    var subsChoice = function () {
      var t = subsForm.querySelector('input[name="tier"]:checked');
      var raw = countInput.value.trim();
      var n = /^\d+$/.test(raw) ? parseInt(raw, 10) : NaN;
      if (!t || !(n >= 1 && n <= maxCount)) return null;
      var price = parseInt(t.getAttribute('data-price'), 10);
      return { tier: t.value, name: t.getAttribute('data-name'), count: n, coins: price * n };
    };
    var showSubsTotal = function () {
      var c = subsChoice();
      subsTotal.textContent = '';
      if (!c) {
        subsTotal.textContent = 'Choose 1 to ' + num(maxCount) + ' subscriptions.';
        subsConfirm.textContent = 'Gift subscriptions';
        subsConfirm.disabled = true;
        return;
      }
      subsTotal.appendChild(document.createTextNode('Total: '));
      var coin = el('span', 'coin');
      coin.setAttribute('aria-hidden', 'true');
      subsTotal.appendChild(coin);
      subsTotal.appendChild(document.createTextNode(coinsText(c.coins) + ' '));
      var fiat = money(c.coins);
      if (fiat) subsTotal.appendChild(el('span', 'gift-fiat', '\u2248 ' + fiat));
      subsConfirm.textContent = 'Gift ' + subsText(c.count);
      subsConfirm.disabled = subsBusy || over || subsBlocked;
    };
    // A quick choice fills the number; a number typed picks the quick
    // choice it equals, if any.
    subsForm.addEventListener('change', function (e) {
      if (e.target.name === 'preset') countInput.value = e.target.value;
      showSubsTotal();
    });
    countInput.addEventListener('input', function () {
      subsForm.querySelectorAll('input[name="preset"]').forEach(function (p) {
        p.checked = p.value === countInput.value.trim();
      });
      showSubsTotal();
    });

    var clearSubsOutcome = function () {
      subsStatus.textContent = '';
      subsStatus.className = 'gift-subs-outcome';
      subsError.textContent = '';
      subsError.className = 'gift-subs-outcome';
    };
    var handles = function (rs) {
      var hs = rs.map(function (r) { return '@' + r.handle; });
      if (hs.length > 10) return hs.slice(0, 10).join(', ') + ' and ' + num(hs.length - 10) + ' more';
      if (hs.length > 1) return hs.slice(0, -1).join(', ') + ' and ' + hs[hs.length - 1];
      return hs.join('');
    };
    var showSubsSuccess = function (body, c) {
      var rs = body.recipients || [];
      var tier = (body.tier && body.tier.name) || c.name;
      var msg = 'You gifted ' + subsText(body.count || rs.length) + ' to @' + creator + '\u2019s ' + tier + ' (' + coinsText(body.coins) + '). ';
      if (rs.length === 1) msg += handles(rs) + ' received it.';
      else if (rs.length <= 10) msg += handles(rs) + ' received one each.';
      else msg += num(rs.length) + ' viewers received one: ' + handles(rs) + '.';
      subsStatus.className = 'gift-subs-outcome notice notice-success';
      subsStatus.appendChild(el('p', '', msg));
      subsStatus.scrollIntoView({ block: 'nearest' });
    };
    var showSubsError = function (body, httpStatus, c) {
      var code = body && body.code;
      var detail = body && body.detail;
      var nothing = ' No coins were taken.';
      var p = el('p');
      switch (code) {
        case 'not_enough_recipients':
          p.textContent = 'Nothing was gifted and no coins were taken: ' + sentence(detail).replace(/^./, function (x) { return x.toLowerCase(); });
          break;
        case 'insufficient_funds':
          var have = balanceShown();
          p.appendChild(document.createTextNode('You don\u2019t have enough coins: ' + subsText(c.count) + ' cost ' + coinsText(c.coins) +
            (isNaN(have) ? '' : ' and you have ' + coinsText(have)) + '. Nothing was gifted. '));
          p.appendChild(link('/wallet#buy', 'Buy coins in your wallet'));
          break;
        case 'wallet_frozen':
          p.appendChild(document.createTextNode(sentence(detail) + nothing + ' '));
          p.appendChild(link('/wallet', 'Open your wallet'));
          break;
        case 'spend_limit_exceeded':
          p.appendChild(document.createTextNode(sentence(detail) + nothing + ' '));
          p.appendChild(link('/settings#spend-limit', 'Your spending limit'));
          break;
        case 'unauthorized':
          p.appendChild(document.createTextNode('Your session has ended, so nothing was gifted. '));
          p.appendChild(link('/login?next=' + encodeURIComponent(location.pathname), 'Log in again'));
          break;
        case 'invalid_state':
          p.textContent = 'This LIVE has ended, so nothing was gifted.' + nothing;
          break;
        default:
          if (detail) p.textContent = sentence(detail) + nothing;
          else if (httpStatus === 0) p.textContent = 'Fanfare could not be reached, so nothing was gifted. Check your connection and try again.';
          else p.textContent = 'Something went wrong and nothing was gifted. Please try again.';
      }
      subsError.className = 'gift-subs-outcome notice notice-error';
      subsError.appendChild(p);
      subsError.scrollIntoView({ block: 'nearest' });
    };

    subsOpen.hidden = false;
    subsOpen.addEventListener('click', function () {
      if (over) return;
      if (!subsBusy) clearSubsOutcome();
      subsDialog.showModal();
    });
    subsDialog.addEventListener('close', function () { subsOpen.focus(); });
    showSubsTotal();

    subsForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var c = subsChoice();
      if (!c || subsBusy || over || subsBlocked) return;
      var u = subsUnanswered;
      var key = u && u.tier === c.tier && u.count === c.count ? u.key : uuid();
      subsBusy = true;
      subsConfirm.disabled = true;
      subsConfirm.classList.add('is-busy');
      clearSubsOutcome();
      subsStatus.textContent = 'Gifting ' + subsText(c.count) + '\u2026';
      fetch(subsForm.getAttribute('data-url'), {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, application/problem+json', 'Idempotency-Key': key },
        body: JSON.stringify({ count: c.count, tier: c.tier }),
      }).then(function (res) {
        return res.json().catch(function () { return null; }).then(function (body) {
          subsUnanswered = res.status >= 500 ? { key: key, tier: c.tier, count: c.count } : null;
          clearSubsOutcome();
          if (res.ok && body) {
            setBalance(body.balance);
            showSubsSuccess(body, c);
          } else {
            showSubsError(body, res.status, c);
          }
        });
      }, function () {
        subsUnanswered = { key: key, tier: c.tier, count: c.count };
        clearSubsOutcome();
        showSubsError(null, 0, c);
      }).then(function () {
        subsBusy = false;
        subsConfirm.classList.remove('is-busy');
        showSubsTotal();
      });
    });
  }

  // --- The studio's clock ----------------------------------------------------------------

  var since = app.querySelector('[data-since]');
  if (since) {
    var start = new Date(since.getAttribute('data-since')).getTime();
    var tick = function () {
      if (over || isNaN(start)) return;
      var s = Math.max(0, Math.floor((Date.now() - start) / 1000));
      var text;
      if (s < 60) text = s + ' s';
      else if (s < 3600) text = Math.floor(s / 60) + ' min';
      else {
        var m = Math.floor(s % 3600 / 60);
        text = Math.floor(s / 3600) + ' h ' + (m < 10 ? '0' : '') + m + ' min';
      }
      since.textContent = text;
    };
    window.setInterval(tick, 15000);
  }

  if (over) ended();
  else connect();
})();
