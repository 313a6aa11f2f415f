// mod_tweetsse page behaviour, on top of htmx and htmx-ext-sse. No eval, no inline code and no
// inline style: what it shows is markup with the classes of tweetsse.css. Without it the page
// is plain links and forms, with the server's absolute times.
(function () {
  'use strict';

  var byId = function (id) { return document.getElementById(id); };
  var liveEl = byId('live'), feedEl = byId('feed'), mainEl = byId('main');

  // Stream ids are "<ms>-<seq>"; true when id a is newer than id b.
  function newer(a, b) {
    var x = String(a).split('-'), y = String(b).split('-');
    return Number(x[0]) > Number(y[0]) ||
      (Number(x[0]) === Number(y[0]) && Number(x[1] || 0) > Number(y[1] || 0));
  }
  var plural = function (n, one, many) { return n + ' ' + (n === 1 ? one : many); };

  // ---- Announcements ---------------------------------------------------------------------
  // One polite live region for summaries ("3 new posts", the stream's state), so that a
  // screen reader is told what happened without the feed itself reading out every card.
  var announcer = null;
  if (mainEl) {
    announcer = document.createElement('div');
    announcer.id = 'announce';
    announcer.className = 'tw-sr';
    announcer.setAttribute('role', 'status');
    announcer.setAttribute('aria-live', 'polite');
    mainEl.appendChild(announcer);
  }
  var announceTimer = null;
  function announce(text) {
    if (!announcer) return;
    // Emptied first, so that the same words said twice are read twice.
    announcer.textContent = '';
    clearTimeout(announceTimer);
    announceTimer = setTimeout(function () { announcer.textContent = text; }, 100);
  }

  // ---- Times -------------------------------------------------------------------------------
  // The server writes the absolute time in UTC; here it becomes "now", "3 min. ago", "2 hr.
  // ago", then a date, in the reader's language and zone, with the exact time as the title.
  // Refreshed by a timer, without asking the server anything.
  var intl = window.Intl && Intl.RelativeTimeFormat && Intl.DateTimeFormat;
  var rtf, dayFmt, yearFmt, exactFmt;
  if (intl) {
    rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });
    dayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
    yearFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
    exactFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });
  }
  function relative(ms, now) {
    var s = Math.max(0, now - ms) / 1000;
    if (s < 60) return rtf.format(0, 'second');
    if (s < 3600) return rtf.format(-Math.floor(s / 60), 'minute');
    if (s < 86400) return rtf.format(-Math.floor(s / 3600), 'hour');
    var d = new Date(ms);
    return (d.getFullYear() === new Date(now).getFullYear() ? dayFmt : yearFmt).format(d);
  }
  function formatTimes(root) {
    if (!intl) return;
    var now = Date.now(), times = (root || document).querySelectorAll('time[datetime]');
    for (var i = 0; i < times.length; i++) {
      var t = times[i], ms = Date.parse(t.getAttribute('datetime'));
      if (isNaN(ms)) continue;
      var text = relative(ms, now), exact = exactFmt.format(new Date(ms));
      if (t.textContent !== text) t.textContent = text;
      if (t.title !== exact) t.title = exact;
    }
  }
  formatTimes();
  setInterval(formatTimes, 20000);
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) formatTimes();
  });

  // ---- The feed: numbering, loading older posts, keys ---------------------------------------
  // A feed (WAI-ARIA feed pattern) owns articles only; each says where it is in the feed, and
  // the feed says it is busy while older posts load.
  function renumber() {
    var cards = feedEl.querySelectorAll(':scope > article');
    if (cards.length && feedEl.getAttribute('role') !== 'feed') {
      feedEl.setAttribute('role', 'feed');
      feedEl.setAttribute('aria-label', 'Posts');
    }
    var size = byId('older') ? -1 : cards.length;
    for (var i = 0; i < cards.length; i++) {
      cards[i].setAttribute('aria-posinset', String(i + 1));
      cards[i].setAttribute('aria-setsize', String(size));
      if (!cards[i].hasAttribute('tabindex')) cards[i].tabIndex = -1;
    }
  }
  if (feedEl) {
    renumber();
    new MutationObserver(function (records) {
      renumber();
      records.forEach(function (r) {
        for (var i = 0; i < r.addedNodes.length; i++) {
          if (r.addedNodes[i].nodeType === 1) formatTimes(r.addedNodes[i]);
        }
      });
    }).observe(feedEl, { childList: true });
    // The element that asked: after the swap htmx tells a parent, as detail.elt, that the old
    // control (requestConfig.elt, replaced by then) is done.
    var isOlder = function (e) {
      var d = e.detail || {}, elt = (d.requestConfig && d.requestConfig.elt) || d.elt;
      return !!elt && elt.id === 'older';
    };
    document.addEventListener('htmx:beforeRequest', function (e) {
      if (isOlder(e)) feedEl.setAttribute('aria-busy', 'true');
    });
    document.addEventListener('htmx:afterRequest', function (e) {
      if (isOlder(e)) {
        feedEl.setAttribute('aria-busy', 'false');
        renumber(); // the control may have become the end marker
      }
    });
    // Page Down / Page Up move between the posts, as the feed pattern has it.
    feedEl.addEventListener('keydown', function (e) {
      if (e.key !== 'PageDown' && e.key !== 'PageUp') return;
      var card = e.target.closest && e.target.closest('#feed > article');
      var next = card && (e.key === 'PageDown' ? card.nextElementSibling : card.previousElementSibling);
      if (next) {
        e.preventDefault();
        next.focus();
      }
    });
  }

  // ---- The stream's state, shown in the banner ---------------------------------------------
  // "Live", "Reconnecting…" or "Offline": the state of this tab's stream, or of the stream of
  // the tab that holds it for the browser (see "One stream per browser"). When it is back, it
  // says how many posts arrived meanwhile.
  var LABELS = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…',
    offline: 'Offline' };
  var statusEl = null, link = 'connecting', shown = null, outage = null, settle = null, calm = null;
  if (liveEl) {
    statusEl = document.createElement('span');
    statusEl.id = 'live-status';
    statusEl.className = 'tw-status';
    var brand = document.querySelector('.tw-brand');
    if (brand) brand.parentNode.insertBefore(statusEl, brand.nextSibling);
    else statusEl = null;
  }
  function showState() {
    var s = navigator.onLine === false ? 'offline' : link;
    if (s === shown) return;
    var was = shown;
    shown = s;
    if (statusEl) {
      statusEl.setAttribute('data-state', s);
      statusEl.textContent = LABELS[s];
    }
    clearTimeout(calm);
    if (s === 'live') {
      if (outage) waitForCatchUp();
    } else if (s === 'offline' || (s === 'reconnecting' && was === 'live')) {
      if (!outage) outage = { posts: 0 };
      clearTimeout(settle);
      announce(s === 'offline' ? 'Offline: new posts will arrive when the connection is back.'
        : 'Connection lost: reconnecting.');
    } else if (s === 'reconnecting' && was === 'offline') {
      announce('Back online: reconnecting.');
    }
  }
  // Back live: the server replays what was missed right away; once that has been quiet for a
  // moment, say how much it was.
  function waitForCatchUp() {
    clearTimeout(settle);
    settle = setTimeout(function () {
      var n = outage ? outage.posts : 0;
      outage = null;
      var text = 'Live again: ' + (n ? plural(n, 'new post', 'new posts') + ' arrived meanwhile'
        : 'no new posts meanwhile');
      if (statusEl) statusEl.textContent = text;
      calm = setTimeout(function () { if (statusEl && shown === 'live') statusEl.textContent = LABELS.live; }, 10000);
      announce(text + '.');
    }, 1000);
  }
  function setLink(s) {
    link = s;
    showState();
    if (leading && channel) channel.postMessage({ type: 'state', state: s });
  }
  window.addEventListener('online', showState);
  window.addEventListener('offline', showState);
  document.addEventListener('htmx:sseOpen', function () { setLink('live'); });
  document.addEventListener('htmx:sseError', function () { setLink('reconnecting'); });
  if (statusEl) showState();

  // ---- Arrivals ----------------------------------------------------------------------------
  // Every new post comes here, from this tab's stream or from the tab that holds it. At the top
  // of the feed it is shown at once; further down it waits behind a "N new posts" button, so
  // that nothing moves under the reader. Arrivals are announced in summary, at most every few
  // seconds.
  var pending = []; // posts waiting: [{id, html}], newest first
  var pill = null;
  if (feedEl && liveEl) {
    pill = document.createElement('button');
    pill.type = 'button';
    pill.id = 'new-posts';
    pill.className = 'tw-pill';
    pill.hidden = true;
    pill.addEventListener('click', showPending);
    feedEl.parentNode.insertBefore(pill, feedEl);
  }
  function atTop() { return feedEl.getBoundingClientRect().top >= -1; }

  var heard = 0, heardTimer = null, lastHeard = 0;
  function noteArrival() {
    if (outage) {
      outage.posts++;
      if (shown === 'live') waitForCatchUp();
      return;
    }
    heard++;
    if (!heardTimer) {
      heardTimer = setTimeout(function () {
        heardTimer = null;
        lastHeard = Date.now();
        if (heard) announce(plural(heard, 'new post', 'new posts'));
        heard = 0;
      }, Math.max(1500, lastHeard + 5000 - Date.now()));
    }
  }

  function has(id) {
    if (byId('post-' + id)) return true;
    for (var i = 0; i < pending.length; i++) if (pending[i].id === id) return true;
    return false;
  }

  function arrive(id, html) {
    if (!id || !feedEl) return;
    if (newer(id, resumeId())) remember(id);
    if (has(id)) return; // a replay overlapping what is shown, or a relayed duplicate
    noteArrival();
    if (atTop()) {
      insertCard(id, html);
    } else {
      var i = 0;
      while (i < pending.length && newer(pending[i].id, id)) i++;
      pending.splice(i, 0, { id: id, html: html });
      pill.textContent = 'Show ' + plural(pending.length, 'new post', 'new posts');
      pill.hidden = false;
    }
  }

  // Swap a card in, newest first (catch-up and live posts may interleave), once.
  function insertCard(id, html) {
    if (byId('post-' + id)) return;
    var before = null;
    for (var el = feedEl.firstElementChild; el; el = el.nextElementSibling) {
      if (el.id.indexOf('post-') === 0 && newer(id, el.id.slice(5))) { before = el; break; }
    }
    htmx.swap(before || feedEl, html, { swapStyle: before ? 'beforebegin' : 'beforeend',
      swapDelay: 0, settleDelay: htmx.config.defaultSettleDelay });
    var card = byId('post-' + id);
    if (card) card.classList.add('tw-new');
  }

  function flush() {
    var list = pending;
    pending = [];
    pill.hidden = true;
    for (var i = list.length - 1; i >= 0; i--) insertCard(list[i].id, list[i].html);
    return list.length ? byId('post-' + list[0].id) : null;
  }

  // The button: show the waiting posts and go to the newest.
  function showPending() {
    var newest = flush();
    window.scrollTo(0, 0);
    if (newest) {
      renumber(); // now, not once the feed's observer runs: the card must be focusable
      newest.focus({ preventScroll: true });
    }
  }
  // Back at the top by scrolling: the waiting posts come in at once.
  var scrollQueued = false;
  window.addEventListener('scroll', function () {
    if (scrollQueued || !pending.length) return;
    scrollQueued = true;
    requestAnimationFrame(function () {
      scrollQueued = false;
      if (pending.length && atTop()) flush();
    });
  }, { passive: true });

  // ---- The resume point --------------------------------------------------------------------
  // sse-connect on #live, or, while another tab holds the stream (see "One stream per browser"
  // below), the same URL kept aside in `parked`.
  var parked = null;
  function streamUrl() {
    return parked !== null ? parked : (liveEl && liveEl.getAttribute('sse-connect'));
  }
  function resumeId() {
    var m = /[?&]last_event_id=([^&]*)/.exec(streamUrl() || '');
    return m ? decodeURIComponent(m[1]) : '0-0';
  }
  // Keep the resume point current. htmx-ext-sse rebuilds its EventSource from the
  // sse-connect attribute after a full close, without a Last-Event-ID header.
  function remember(id) {
    if (!liveEl || !id) return;
    var url = 'home/sse?last_event_id=' + encodeURIComponent(id);
    if (parked !== null) parked = url;
    else liveEl.setAttribute('sse-connect', url);
  }

  // A post from this tab's stream: passed on to the other tabs, then shown (or held) here.
  document.addEventListener('htmx:sseBeforeMessage', function (e) {
    var id = e.detail && e.detail.lastEventId;
    // The tab holding the shared stream passes every post on, even one it shows already.
    if (leading && id) channel.postMessage({ type: 'posts', posts: [{ id: id, html: e.detail.data }] });
    e.preventDefault();
    if (link !== 'live') setLink('live');
    arrive(id, e.detail.data);
  });

  // Leaving the page (a link to a post's page, to older posts) ends the stream first: the
  // browser would cut it and htmx-ext-sse report that as an error. A page that comes back from
  // the back-forward cache has missed posts meanwhile, so it loads afresh.
  var openSource = null;
  window.addEventListener('pagehide', function () {
    if (openSource) openSource.close();
    // The stream changes hands (a waiting tab takes the lock): no outage to announce.
    if (leading && channel) channel.postMessage({ type: 'state', state: 'connecting' });
  });
  window.addEventListener('pageshow', function (e) {
    if (e.persisted && openSource) window.location.reload();
  });

  // The server asks for a reload when the page is too old to resume without a gap.
  document.addEventListener('htmx:sseOpen', function (e) {
    var source = e.detail && e.detail.source;
    openSource = source || openSource;
    if (source && !source.twReload) {
      source.twReload = true;
      source.addEventListener('reload', function () {
        if (channel) channel.postMessage({ type: 'reload' });
        reload();
      });
    }
  });

  // ---- One stream per browser --------------------------------------------------------------
  // The tabs of a browser profile share its connections to a host (6 on HTTP/1.1), so only the
  // tab holding a Web Lock named after the stream URL keeps the htmx-ext-sse stream; it passes
  // each post and its stream's state on over a BroadcastChannel of the same name, and the
  // other tabs take them as their own. When that tab closes, the lock goes to a waiting tab,
  // which opens the stream from its own newest id. Without Web Locks or BroadcastChannel every
  // tab keeps its own stream, as the markup says.
  var channel = null, leading = false, reloading = false;

  // Reload this tab. Until the page is gone it takes no stream: the lock may still come to it
  // (the holder reloads too), and a stream from its old resume point would only say reload
  // again, to every tab.
  function reload() {
    reloading = true;
    window.location.reload();
  }
  var rendered = resumeId(); // the newest post this page was rendered with

  // A card's markup as the server sent it, from the page.
  function cardHtml(el) {
    var copy = el.cloneNode(true);
    copy.classList.remove('tw-new', 'htmx-added', 'htmx-settling');
    ['aria-posinset', 'aria-setsize', 'tabindex'].forEach(function (a) { copy.removeAttribute(a); });
    return copy.outerHTML;
  }

  function onRelay(e) {
    var m = e.data || {};
    if (m.type === 'hello' && leading) {
      // A tab that joined (or saw the stream change hands) may have missed posts between
      // its render and joining: send it the newer cards shown or waiting here, oldest first,
      // and the stream's state.
      var posts = [], all = feedEl.querySelectorAll('article[id^="post-"]');
      for (var i = all.length - 1; i >= 0; i--) {
        var id = all[i].id.slice(5);
        if (newer(id, m.since)) posts.push({ id: id, html: cardHtml(all[i]) });
      }
      for (var k = pending.length - 1; k >= 0; k--) {
        if (newer(pending[k].id, m.since)) posts.push(pending[k]);
      }
      if (posts.length) channel.postMessage({ type: 'posts', posts: posts });
      channel.postMessage({ type: 'state', state: link });
    } else if (m.type === 'leader' && !leading) {
      channel.postMessage({ type: 'hello', since: rendered });
    } else if (m.type === 'posts' && !leading) {
      m.posts.forEach(function (p) { arrive(p.id, p.html); });
    } else if (m.type === 'state' && !leading && LABELS[m.state]) {
      link = m.state;
      showState();
    } else if (m.type === 'reload') {
      reload();
    }
  }

  // Scripts are deferred: this runs before htmx processes the page at DOMContentLoaded, so
  // parking the stream attributes here keeps htmx-ext-sse from connecting in this tab.
  if (liveEl && feedEl && streamUrl() && navigator.locks && window.BroadcastChannel) {
    var name = 'tweetsse ' + new URL(streamUrl(), document.baseURI).pathname;
    var swapAttr = feedEl.getAttribute('sse-swap');
    parked = streamUrl();
    liveEl.removeAttribute('sse-connect');
    feedEl.removeAttribute('sse-swap');
    channel = new BroadcastChannel(name);
    channel.onmessage = onRelay;
    channel.postMessage({ type: 'hello', since: rendered });
    navigator.locks.request(name, function () {
      if (reloading) return undefined; // let the lock go on to a tab that stays
      leading = true;
      setLink('connecting');
      liveEl.setAttribute('sse-connect', parked);
      feedEl.setAttribute('sse-swap', swapAttr);
      parked = null;
      htmx.process(liveEl); // changed attributes: htmx sets both elements up afresh
      channel.postMessage({ type: 'leader' });
      return new Promise(function () {}); // held until the page goes away
    });
  }

  // ---- Compose -----------------------------------------------------------------------------
  var form = byId('compose'), box = byId('message'), counter = byId('compose-count');
  var submit = form && form.querySelector('button[type="submit"]');
  var max = box ? Number(box.getAttribute('data-max')) || 0 : 0;

  // What the server counts (src/tw_text.c): line ends as LF, blanks trimmed from both ends,
  // then Unicode code points.
  function isBlank(cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp === 0x20 || cp === 0x85 || cp === 0xA0 ||
      cp === 0x1680 || (cp >= 0x2000 && cp <= 0x200D) || cp === 0x2028 || cp === 0x2029 ||
      cp === 0x202F || cp === 0x205F || cp === 0x2060 || cp === 0x3000 || cp === 0xFEFF;
  }
  function length(text) {
    var cps = Array.from(text.replace(/\r\n?/g, '\n'));
    var a = 0, b = cps.length;
    while (a < b && isBlank(cps[a].codePointAt(0))) a++;
    while (b > a && isBlank(cps[b - 1].codePointAt(0))) b--;
    return b - a;
  }
  var NEAR = 20, zone = 'ok';
  function left() { return max - length(box.value); }
  function updateCount() {
    if (!max || !counter) return;
    var n = left();
    var now = n < 0 ? 'over' : n <= NEAR ? 'near' : 'ok';
    counter.textContent = '';
    var digits = document.createElement('span');
    digits.setAttribute('aria-hidden', 'true');
    digits.textContent = String(n);
    var words = document.createElement('span');
    words.className = 'tw-sr';
    words.textContent = n < 0 ? plural(-n, 'character', 'characters') + ' over the limit of ' + max
      : plural(n, 'character', 'characters') + ' left';
    counter.appendChild(digits);
    counter.appendChild(words);
    counter.className = 'tw-count' + (now === 'ok' ? '' : ' is-' + now);
    if (submit) submit.disabled = n < 0;
    if (now !== zone && now !== 'ok') announce(words.textContent);
    zone = now;
  }
  if (box) {
    box.addEventListener('input', updateCount);
    updateCount();
  }

  // A post that was stored used up the form's idempotency key (a retry of the same post with
  // it is stored once): the next post gets a key of its own, or none if there is no
  // randomness to make one.
  function renewKey() {
    var key = form.querySelector('input[name="key"]');
    if (!key) return;
    if (!window.crypto || !crypto.getRandomValues) { key.remove(); return; }
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    key.value = Array.prototype.map.call(bytes, function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
  }

  // Over the limit nothing is sent, whichever way the post was asked for.
  document.addEventListener('htmx:beforeRequest', function (e) {
    if (form && e.detail.elt === form && max && left() < 0) e.preventDefault();
  });

  // Why a post was refused, in words: the module states its reasons in text/plain; anything
  // else (an HTML error page from Apache itself or a proxy in front) is summed up.
  function refusal(xhr) {
    var status = (xhr && xhr.status) || 0;
    if (!status) return 'Could not post: the server cannot be reached.';
    var type = xhr.getResponseHeader('Content-Type') || '';
    var wait = Number(xhr.getResponseHeader('Retry-After'));
    var text = /^text\/plain\b/i.test(type) && xhr.responseText ? xhr.responseText.trim()
      : 'Could not post: the server answered ' + status + (xhr.statusText ? ' ' + xhr.statusText : '') + '.';
    if (status === 429 && wait > 0 && !/\d+ s\b/.test(text)) {
      text += ' (try again in ' + wait + ' s)';
    }
    return text;
  }

  // After a post: the form is cleared and keeps the focus. A refusal is shown in the form; the
  // draft and its key stay, so that sending it again cannot store it twice.
  document.addEventListener('htmx:afterRequest', function (e) {
    if (!form || e.detail.elt !== form) return;
    var out = byId('compose-error');
    if (e.detail.successful) {
      form.reset();
      renewKey();
      if (out) out.textContent = '';
      updateCount();
      box.focus();
    } else if (out) {
      out.textContent = refusal(e.detail.xhr);
    }
  });

  // Ctrl+Enter / Cmd+Enter posts, like most micro-blogs.
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && e.target === box) {
      e.preventDefault();
      if (max && left() < 0) return;
      if (form.requestSubmit) form.requestSubmit();
      else htmx.trigger(form, 'submit');
    }
  });
})();
