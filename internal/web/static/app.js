// Fanfare's pages work without this script; it only makes them nicer:
// the small screens' menu, confirmations, no double submissions, upload progress bars, auto-submitting filters, test card
// shortcuts, the tip form's amount fields, character counters and times in
// the reader's time zone.
(function () {
  'use strict';
  var root = document.documentElement;
  root.classList.add('js');

  // The menu: a <details> that opens on its own; here it says whether it
  // is open (aria-expanded), closes on Escape and on a click elsewhere, and
  // stays open on wide screens, where it is the navigation bar.
  var menu = document.querySelector('details[data-menu]');
  if (menu) {
    var summary = menu.querySelector('summary');
    var wide = window.matchMedia('(min-width: 60rem)');
    var sync = function () { summary.setAttribute('aria-expanded', menu.open ? 'true' : 'false'); };
    var fit = function () { menu.open = wide.matches; sync(); };
    menu.addEventListener('toggle', sync);
    if (wide.addEventListener) wide.addEventListener('change', fit);
    fit();
    document.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' && menu.open && !wide.matches) {
        menu.open = false;
        sync();
        summary.focus();
      }
    });
    document.addEventListener('click', function (event) {
      if (menu.open && !wide.matches && !menu.contains(event.target)) {
        menu.open = false;
        sync();
      }
    });
    // The summary's own click toggles the menu after this tick.
    summary.addEventListener('click', function () {
      window.setTimeout(sync, 0);
    });
  }

  // Forms that ask in the page's own dialog first (data-dialog names the
  // <dialog>): its confirm button sends the form; Cancel or Escape does
  // not. Without this script the form is sent as it is.
  document.querySelectorAll('form[data-dialog]').forEach(function (form) {
    var dialog = document.getElementById(form.getAttribute('data-dialog'));
    if (!dialog || typeof dialog.showModal !== 'function') return;
    var opener = null;
    form.addEventListener('submit', function (event) {
      if (form.dataset.confirmed === 'yes') return;
      event.preventDefault();
      event.stopImmediatePropagation();
      opener = document.activeElement;
      dialog.showModal();
    }, true);
    dialog.addEventListener('close', function () {
      if (dialog.returnValue === 'confirm') {
        form.dataset.confirmed = 'yes';
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      } else if (opener && opener.focus) {
        opener.focus();
      }
      dialog.returnValue = '';
    });
  });

  // Links that open a dialog of the page (data-open-dialog names it): the
  // Subscribe button opens its dialog instead of the Subscribe page, which
  // the link leads to without this script.
  document.querySelectorAll('a[data-open-dialog]').forEach(function (link) {
    var dialog = document.getElementById(link.getAttribute('data-open-dialog'));
    if (!dialog || typeof dialog.showModal !== 'function') return;
    link.addEventListener('click', function (event) {
      event.preventDefault();
      dialog.showModal();
    });
    dialog.addEventListener('close', function () { link.focus(); });
  });

  // Forms: ask first where a form says so, and send a form only once.
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (event.defaultPrevented) return;
    var question = form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute('data-once') || question) {
      if (form.dataset.sent === 'yes') {
        event.preventDefault();
        return;
      }
      form.dataset.sent = 'yes';
      form.setAttribute('aria-busy', 'true');
      // Disabled after this tick so the submitter still goes with the form.
      window.setTimeout(function () {
        form.querySelectorAll('button[type=submit]').forEach(function (b) {
          b.disabled = true;
          b.classList.add('is-busy');
        });
      }, 0);
    }
  });

  // A page restored from the back-forward cache gets its forms back.
  window.addEventListener('pageshow', function (event) {
    if (!event.persisted) return;
    document.querySelectorAll('form[data-sent]').forEach(function (form) {
      delete form.dataset.sent;
      form.removeAttribute('aria-busy');
      form.querySelectorAll('button[type=submit]').forEach(function (b) {
        b.disabled = false;
        b.classList.remove('is-busy');
      });
    });
  });

  // Filters and the currency selector apply as soon as they change.
  document.querySelectorAll('form[data-autosubmit] select').forEach(function (select) {
    select.addEventListener('change', function () {
      var form = select.form;
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    });
  });

  // Test card hints fill the card field.
  var card = document.getElementById('card_number');
  document.querySelectorAll('button[data-card]').forEach(function (button) {
    button.addEventListener('click', function () {
      if (!card) return;
      card.value = button.getAttribute('data-card');
      card.dispatchEvent(new Event('input', { bubbles: true }));
      card.focus();
    });
  });
  if (card) {
    card.addEventListener('blur', function () {
      var digits = card.value.replace(/[\s-]/g, '');
      if (/^\d{16}$/.test(digits)) card.value = digits.replace(/(\d{4})(?=\d)/g, '$1 ');
    });
  }

  // The tip form: an amount typed replaces the chosen chip, and choosing a
  // chip clears the amount typed.
  document.querySelectorAll('form[data-tip-form]').forEach(function (form) {
    var custom = form.querySelector('input[name="custom_coins"]');
    var chips = form.querySelectorAll('input[name="coins"]');
    if (!custom) return;
    custom.addEventListener('input', function () {
      if (custom.value !== '') chips.forEach(function (c) { c.checked = false; });
    });
    chips.forEach(function (c) {
      c.addEventListener('change', function () { custom.value = ''; });
    });
  });

  // Character counters: "12/150" under a field with a maxlength.
  document.querySelectorAll('[data-counter-for]').forEach(function (counter) {
    var field = document.getElementById(counter.getAttribute('data-counter-for'));
    if (!field) return;
    var max = Number(field.getAttribute('maxlength')) || 0;
    var update = function () {
      var n = Array.from(field.value).length;
      counter.textContent = max ? n + '/' + max : String(n);
      counter.classList.toggle('is-over', max > 0 && n > max);
    };
    field.addEventListener('input', update);
    update();
  });

  // Countdowns to a shoutout's deadline ("in 2 days 4 hours"), kept
  // current every 30 seconds.
  var countdowns = document.querySelectorAll('[data-countdown]');
  if (countdowns.length) {
    var plural = function (n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); };
    var left = function (ms) {
      if (ms <= 0) return 'now';
      var days = Math.floor(ms / 86400000), hours = Math.floor(ms % 86400000 / 3600000), minutes = Math.floor(ms % 3600000 / 60000);
      if (days > 0) return 'in ' + plural(days, 'day') + (hours > 0 ? ' ' + plural(hours, 'hour') : '');
      if (hours > 0) return 'in ' + plural(hours, 'hour') + (minutes > 0 ? ' ' + plural(minutes, 'minute') : '');
      if (minutes > 0) return 'in ' + plural(minutes, 'minute');
      return 'in less than a minute';
    };
    var tick = function () {
      countdowns.forEach(function (el) {
        var at = new Date(el.getAttribute('data-countdown')).getTime();
        if (!isNaN(at)) el.textContent = left(at - Date.now());
      });
    };
    tick();
    setInterval(tick, 30000);
  }

  // A shoutout's video upload: the chosen file goes to the API as the body
  // of a PUT, with a progress bar; on success the page reloads, a refusal
  // shows its problem's detail.
  document.querySelectorAll('[data-upload]').forEach(function (box) {
    var form = box.querySelector('[data-upload-form]');
    var input = box.querySelector('input[type=file]');
    var send = box.querySelector('[data-upload-send]');
    var bar = box.querySelector('[data-upload-progress]');
    var status = box.querySelector('[data-upload-status]');
    var nojs = box.querySelector('[data-upload-nojs]');
    if (!form || !input || !send || !window.XMLHttpRequest) return;
    if (nojs) nojs.hidden = true;
    form.hidden = false;
    send.addEventListener('click', function () {
      var file = input.files && input.files[0];
      if (!file) { status.textContent = 'Choose a video first.'; return; }
      var xhr = new XMLHttpRequest();
      xhr.open('PUT', box.getAttribute('data-upload'));
      xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
      send.disabled = true;
      bar.hidden = false;
      bar.value = 0;
      status.textContent = 'Uploading…';
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) bar.value = Math.round(e.loaded / e.total * 100);
      };
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          bar.value = 100;
          status.textContent = 'Delivered.';
          window.location.reload();
          return;
        }
        var detail = '';
        try { detail = JSON.parse(xhr.responseText).detail || ''; } catch (e) { /* not JSON */ }
        if (!detail && xhr.status === 413) detail = 'This video is too large.';
        if (!detail && xhr.status === 415) detail = 'This file is not a video we accept (MP4, WebM or QuickTime).';
        status.textContent = (detail || 'The upload failed (' + xhr.status + ').') + ' Nothing was delivered.';
        send.disabled = false;
        bar.hidden = true;
      };
      xhr.onerror = function () {
        status.textContent = 'The upload was cut short. Nothing was delivered; try again.';
        send.disabled = false;
        bar.hidden = true;
      };
      xhr.send(file);
    });
  });

  // File fields that say their limit (data-max-bytes): a file too large is
  // refused at once, before it is sent, with the field's own message.
  document.querySelectorAll('input[type=file][data-max-bytes]').forEach(function (input) {
    var max = Number(input.getAttribute('data-max-bytes')) || 0;
    var check = function () {
      var file = input.files && input.files[0];
      var tooLarge = max > 0 && file && file.size > max;
      input.setCustomValidity(tooLarge ? 'This file is too large: the limit is ' + (max >= 1048576 ? Math.floor(max / 1048576) + ' MB' : Math.floor(max / 1024) + ' KiB') + '.' : '');
      if (tooLarge) input.reportValidity();
    };
    input.addEventListener('change', check);
    check();
  });

  // Upload forms with a progress bar (data-progress-form): with a file
  // chosen, the form goes by XMLHttpRequest, so the bar can follow the
  // upload. Success leads where the server's answer led; a refusal shows
  // the answer's messages under the form, whose fields keep what was typed.
  // Without a file (or without this script) the form is sent as it is.
  document.querySelectorAll('form[data-progress-form]').forEach(function (form) {
    var bar = form.querySelector('[data-progress]');
    var status = form.querySelector('[data-progress-status]');
    var submit = form.querySelector('button[type=submit]');
    if (!bar || !status || !window.XMLHttpRequest || !window.FormData || !window.DOMParser) return;
    form.addEventListener('submit', function (event) {
      var chosen = Array.prototype.some.call(form.querySelectorAll('input[type=file]'), function (input) {
        return input.files && input.files.length > 0;
      });
      if (!chosen || event.defaultPrevented) return;
      event.preventDefault();
      if (form.dataset.sent === 'yes') return;
      form.dataset.sent = 'yes';
      var done = function (message) {
        delete form.dataset.sent;
        if (submit) submit.disabled = false;
        bar.hidden = true;
        status.textContent = message;
      };
      var xhr = new XMLHttpRequest();
      xhr.open('POST', form.action);
      if (submit) submit.disabled = true;
      bar.hidden = false;
      bar.value = 0;
      status.textContent = 'Uploading…';
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) bar.value = Math.round(e.loaded / e.total * 100);
      };
      xhr.onload = function () {
        var target = xhr.responseURL && xhr.responseURL.split('#')[0];
        if (xhr.status >= 200 && xhr.status < 300 && target && target !== form.action) {
          bar.value = 100;
          status.textContent = 'Published.';
          window.location.assign(xhr.responseURL);
          return;
        }
        var doc = new DOMParser().parseFromString(xhr.responseText || '', 'text/html');
        var parts = Array.prototype.map.call(doc.querySelectorAll('.notice-error p, .field-error, [data-testid="error-message"]'), function (el) {
          return el.textContent.trim();
        }).filter(Boolean);
        done(parts.length ? parts.join(' ') : 'The upload failed (' + xhr.status + '). Nothing was published.');
      };
      xhr.onerror = function () {
        done('The upload was cut short. Nothing was published; try again.');
      };
      xhr.send(new FormData(form));
    });
  });

  // The withdraw form previews what the diamonds typed are paid out as,
  // as the server computes it: diamonds × (minor units per million
  // diamonds) / 1,000,000, rounded down.
  document.querySelectorAll('[data-withdraw-form]').forEach(function (form) {
    var input = form.elements.diamonds;
    var select = form.elements.currency;
    var preview = form.querySelector('[data-withdraw-preview]');
    if (!input || !select || !preview) return;
    var update = function () {
      var option = select.options[select.selectedIndex];
      var perMillion = parseInt(option.getAttribute('data-per-million'), 10);
      var diamonds = parseInt(input.value.replace(/[\s,_\u00a0]/g, ''), 10);
      if (isNaN(perMillion) || isNaN(diamonds) || diamonds < 0) return;
      var minor = Math.floor(diamonds / 1000000) * perMillion + Math.floor((diamonds % 1000000) * perMillion / 1000000);
      var units = String(Math.floor(minor / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
      var cents = String(minor % 100).padStart(2, '0');
      preview.textContent = diamonds.toLocaleString('en-US') + ' diamonds are paid out as ' +
        (option.getAttribute('data-prefix') || '') + units + '.' + cents + '.';
    };
    input.addEventListener('input', update);
    select.addEventListener('change', update);
  });

  // Times in the reader's own time zone; the UTC time stays in the title.
  if (window.Intl && Intl.DateTimeFormat) {
    var fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    document.querySelectorAll('time[datetime]').forEach(function (el) {
      var d = new Date(el.getAttribute('datetime'));
      if (isNaN(d.getTime())) return;
      el.title = el.textContent;
      el.textContent = fmt.format(d);
    });
  }
})();
