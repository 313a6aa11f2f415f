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
        markLiked(); // the older cards' Like buttons
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

  // ---- Deletions, counts, readers ---------------------------------------------------------
  // The other events of the log change what is shown: a deletion takes the post away wherever
  // it is (shown, or waiting behind the button), a count replaces the post's count alone; a
  // post this page does not show is nothing to change. The number of readers is no event of
  // the log: it has no id.
  function removePost(post) {
    for (var i = 0; i < pending.length; i++) {
      if (pending[i].id === post) {
        pending.splice(i, 1);
        pill.textContent = 'Show ' + plural(pending.length, 'new post', 'new posts');
        pill.hidden = !pending.length;
        break;
      }
    }
    var card = byId('post-' + post);
    if (!card) return false;
    var focused = card.contains(document.activeElement);
    var next = card.nextElementSibling || card.previousElementSibling;
    card.remove();
    if (focused && next && next.focus) next.focus(); // the reader's place is kept
    return true;
  }
  function setCount(post, n) {
    var el = byId('likes-' + post);
    if (el && el.textContent !== String(n)) el.textContent = String(n);
    var re = new RegExp('(id="likes-' + post + '"[^>]*>)\\d+<');
    for (var i = 0; i < pending.length; i++) {
      if (pending[i].id === post) pending[i].html = pending[i].html.replace(re, '$1' + n + '<');
    }
  }
  var readersLine = byId('readers-line'), readersEl = byId('readers');
  function setReaders(n) {
    if (!readersEl || !(n >= 0)) return;
    readersEl.textContent = String(n);
    readersLine.hidden = false;
  }
  // One event of the stream, from this tab's or relayed: {type, id, data}.
  function take(ev) {
    if (ev.type === 'post') {
      arrive(ev.id, ev.data);
      return;
    }
    if (ev.type === 'presence') {
      setReaders(Number(ev.data));
      return;
    }
    if (ev.id && newer(ev.id, resumeId())) remember(ev.id);
    var m;
    if (ev.type === 'delete' && (m = /id="post-(\d+-\d+)"/.exec(ev.data || ''))) {
      if (removePost(m[1])) renumber();
    } else if (ev.type === 'count' && (m = /id="likes-(\d+-\d+)"[^>]*>(\d+)</.exec(ev.data || ''))) {
      setCount(m[1], Number(m[2]));
    }
  }

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

  // An event from this tab's stream: passed on to the other tabs, then taken here. An event
  // without an id (the readers) leaves lastEventId as it was: its type tells.
  document.addEventListener('htmx:sseBeforeMessage', function (e) {
    var d = e.detail || {};
    var ev = { type: d.type, id: d.type === 'presence' ? null : d.lastEventId, data: d.data };
    // The tab holding the shared stream passes every event on, even one it shows already.
    if (leading) channel.postMessage({ type: 'events', events: [ev] });
    e.preventDefault();
    if (link !== 'live') setLink('live');
    take(ev);
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

  // What this tab shows, for a tab that joins: the posts from its oldest card on (one missing
  // from them was deleted), their counts, and the readers. The leader's page was rendered or
  // caught up after the joiner's, so it knows of what the joiner missed meanwhile.
  function snapshot() {
    var ids = [], counts = {}, all = feedEl.querySelectorAll('article[id^="post-"]');
    for (var i = 0; i < all.length; i++) {
      var id = all[i].id.slice(5), n = byId('likes-' + id);
      ids.push(id);
      if (n) counts[id] = n.textContent;
    }
    pending.forEach(function (p) { ids.push(p.id); });
    return { ids: ids, floor: all.length ? all[all.length - 1].id.slice(5) : null, counts: counts,
      readers: readersEl && !readersLine.hidden ? Number(readersEl.textContent) : -1 };
  }
  // Take the leader's snapshot: a card from its range that it does not have was deleted.
  function resync(s) {
    var have = {}, changed = false;
    s.ids.forEach(function (id) { have[id] = true; });
    var all = feedEl.querySelectorAll('article[id^="post-"]');
    for (var i = 0; i < all.length; i++) {
      var id = all[i].id.slice(5);
      if (s.floor && !newer(s.floor, id) && !have[id]) changed = removePost(id) || changed;
    }
    pending.slice().forEach(function (p) {
      if (s.floor && !newer(s.floor, p.id) && !have[p.id]) removePost(p.id);
    });
    Object.keys(s.counts).forEach(function (id) { setCount(id, Number(s.counts[id])); });
    if (s.readers >= 0) setReaders(s.readers);
    if (changed) renumber();
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
      channel.postMessage({ type: 'sync', sync: snapshot() });
      channel.postMessage({ type: 'state', state: link });
    } else if (m.type === 'leader' && !leading) {
      channel.postMessage({ type: 'hello', since: rendered });
    } else if (m.type === 'posts' && !leading) {
      m.posts.forEach(function (p) { arrive(p.id, p.html); });
    } else if (m.type === 'events' && !leading) {
      m.events.forEach(take);
    } else if (m.type === 'sync' && !leading) {
      resync(m.sync);
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

  // ---- The viewer's own: likes and deletions ------------------------------------------------
  // Cards are the same for every viewer. Which of them this viewer likes comes from
  // home/liked, asked for the cards of the page and of each page of older posts (a live post is
  // liked by nobody yet); the answer to a Like sets its button itself (out of band).
  var asked = {};
  function likedUrl() {
    var f = feedEl && feedEl.querySelector('form.tw-like-form');
    if (!f) f = document.querySelector('form.tw-like-form');
    if (!f) return null;
    var u = new URL(f.getAttribute('action'), document.baseURI);
    return u.pathname.replace(/post\/[^/]*$/, 'liked');
  }
  // A visitor who never liked anything in this browser likes nothing: no question then (a
  // repeat visit stays one request).
  function everLiked(set) {
    try {
      if (set) localStorage.setItem('tweetsse-liked', '1');
      return !!localStorage.getItem('tweetsse-liked');
    } catch (e) {
      return true; // no storage: ask
    }
  }
  function markLiked() {
    var url = likedUrl();
    if (!url || !window.fetch || !everLiked(false)) return;
    var btns = document.querySelectorAll('button.tw-like[id^="like-"]'), ids = [];
    for (var i = 0; i < btns.length && ids.length < 100; i++) {
      var id = btns[i].id.slice(5);
      if (!asked[id]) { asked[id] = true; ids.push(id); }
    }
    if (!ids.length) return;
    fetch(url + '?ids=' + ids.join(','), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : { liked: [] }; })
      .then(function (j) {
        (j.liked || []).forEach(function (id) {
          var b = byId('like-' + id);
          if (b) b.setAttribute('aria-pressed', 'true');
        });
        if (ids.length === 100) markLiked(); // more cards than one question holds
      }, function () {});
  }
  markLiked();

  // A Delete that succeeded takes the card away here at once (the deletion's event does it on
  // every other page); a refused Like or Delete says why next to the card's buttons.
  document.addEventListener('htmx:afterRequest', function (e) {
    var f = e.detail && e.detail.elt;
    f = f && f.closest && f.closest('form.tw-own, form.tw-like-form');
    if (!f) return;
    var card = f.closest('article'), foot = f.parentNode, out = foot.querySelector('.tw-act-error');
    if (e.detail.successful) {
      if (out) out.remove();
      if (f.classList.contains('tw-like-form')) everLiked(true);
      if (f.classList.contains('tw-own') && card) {
        if (removePost(card.id.slice(5))) renumber();
        announce('Post deleted.');
      }
      return;
    }
    if (!out) {
      out = document.createElement('span');
      out.className = 'tw-act-error';
      out.setAttribute('role', 'alert');
      foot.appendChild(out);
    }
    out.textContent = refusal(e.detail.xhr).replace(/^Could not post/, 'Could not do that');
  });
})();
