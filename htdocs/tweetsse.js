// mod_tweetsse page behaviour, on top of htmx and htmx-ext-sse. No eval, no inline code.
(function () {
  'use strict';

  var live = function () { return document.getElementById('live'); };

  // Stream ids are "<ms>-<seq>"; true when id a is newer than id b.
  function newer(a, b) {
    var x = String(a).split('-'), y = String(b).split('-');
    return Number(x[0]) > Number(y[0]) ||
      (Number(x[0]) === Number(y[0]) && Number(x[1] || 0) > Number(y[1] || 0));
  }

  // The resume point: sse-connect on #live, or, while another tab holds the stream (see
  // "One stream per browser" below), the same URL kept aside in `parked`.
  var parked = null;
  function streamUrl() {
    var el = live();
    return parked !== null ? parked : (el && el.getAttribute('sse-connect'));
  }
  function resumeId() {
    var m = /[?&]last_event_id=([^&]*)/.exec(streamUrl() || '');
    return m ? decodeURIComponent(m[1]) : '0-0';
  }

  // Keep the resume point current. htmx-ext-sse rebuilds its EventSource from the
  // sse-connect attribute after a full close, without a Last-Event-ID header.
  function remember(id) {
    var el = live();
    if (!el || !id) return;
    var url = 'home/sse?last_event_id=' + encodeURIComponent(id);
    if (parked !== null) parked = url;
    else el.setAttribute('sse-connect', url);
  }

  // A post already on the page (a replay overlapping what is shown) is not added twice.
  document.addEventListener('htmx:sseBeforeMessage', function (e) {
    var id = e.detail && e.detail.lastEventId;
    // The tab holding the shared stream passes every post on, even one it shows already.
    if (leading && id) channel.postMessage({ type: 'posts', posts: [{ id: id, html: e.detail.data }] });
    if (id && document.getElementById('post-' + id)) {
      e.preventDefault();
      remember(id);
    }
  });

  document.addEventListener('htmx:sseMessage', function (e) {
    if (e.detail && e.detail.lastEventId) {
      remember(e.detail.lastEventId);
      // Highlight the card that just arrived (not the ones rendered with the page).
      var card = document.getElementById('post-' + e.detail.lastEventId);
      if (card) card.classList.add('tw-new');
    }
  });

  // Leaving the page (a link to a post's page, to older posts) ends the stream first: the
  // browser would cut it and htmx-ext-sse report that as an error. A page that comes back from
  // the back-forward cache has missed posts meanwhile, so it loads afresh.
  var openSource = null;
  window.addEventListener('pagehide', function () {
    if (openSource) openSource.close();
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

  // One stream per browser. The tabs of a browser profile share its connections to a host
  // (6 on HTTP/1.1), so only the tab holding a Web Lock named after the stream URL keeps the
  // htmx-ext-sse stream; it passes each post on over a BroadcastChannel of the same name and
  // the other tabs swap the cards in with htmx. When that tab closes, the lock goes to a
  // waiting tab, which opens the stream from its own newest id. Without Web Locks or
  // BroadcastChannel every tab keeps its own stream, as the markup says.
  var channel = null, leading = false, reloading = false;

  // Reload this tab. Until the page is gone it takes no stream: the lock may still come to it
  // (the holder reloads too), and a stream from its old resume point would only say reload
  // again, to every tab.
  function reload() {
    reloading = true;
    window.location.reload();
  }
  var liveEl = live(), feedEl = document.getElementById('feed');
  var rendered = resumeId(); // the newest post this page was rendered with

  // A card's markup as the server sent it, from the page.
  function cardHtml(el) {
    var copy = el.cloneNode(true);
    copy.classList.remove('tw-new', 'htmx-added', 'htmx-settling');
    return copy.outerHTML;
  }

  // Swap a relayed card in, newest first (catch-up and live posts may interleave), once;
  // always above the "Older posts" control or the end marker that closes the feed.
  function addCard(id, html) {
    if (!id || document.getElementById('post-' + id)) return;
    var before = null;
    for (var el = feedEl.firstElementChild; el; el = el.nextElementSibling) {
      if (el.id.indexOf('post-') !== 0 || newer(id, el.id.slice(5))) { before = el; break; }
    }
    htmx.swap(before || feedEl, html, { swapStyle: before ? 'beforebegin' : 'beforeend',
      swapDelay: 0, settleDelay: htmx.config.defaultSettleDelay });
    var card = document.getElementById('post-' + id);
    if (card) card.classList.add('tw-new');
    if (newer(id, resumeId())) remember(id);
  }

  function onRelay(e) {
    var m = e.data || {};
    if (m.type === 'hello' && leading) {
      // A tab that joined (or saw the stream change hands) may have missed posts between
      // its render and joining: send it the newer cards shown here, oldest first.
      var posts = [], all = feedEl.querySelectorAll('article[id^="post-"]');
      for (var i = all.length - 1; i >= 0; i--) {
        var id = all[i].id.slice(5);
        if (newer(id, m.since)) posts.push({ id: id, html: cardHtml(all[i]) });
      }
      if (posts.length) channel.postMessage({ type: 'posts', posts: posts });
    } else if (m.type === 'leader' && !leading) {
      channel.postMessage({ type: 'hello', since: rendered });
    } else if (m.type === 'posts' && !leading) {
      m.posts.forEach(function (p) { addCard(p.id, p.html); });
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
      liveEl.setAttribute('sse-connect', parked);
      feedEl.setAttribute('sse-swap', swapAttr);
      parked = null;
      htmx.process(liveEl); // changed attributes: htmx sets both elements up afresh
      channel.postMessage({ type: 'leader' });
      return new Promise(function () {}); // held until the page goes away
    });
  }

  // A post that was stored used up the form's idempotency key (a retry of the same post with
  // it is stored once): the next post gets a key of its own, or none if there is no
  // randomness to make one.
  function renewKey(form) {
    var key = form.querySelector('input[name="key"]');
    if (!key) return;
    if (!window.crypto || !crypto.getRandomValues) { key.remove(); return; }
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    key.value = Array.prototype.map.call(bytes, function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
  }

  // Compose form: clear after a successful post, show the reason of a refusal. A failed post
  // keeps its draft and its key, so that sending it again cannot store it twice.
  document.addEventListener('htmx:afterRequest', function (e) {
    var form = document.getElementById('compose');
    if (!form || e.detail.elt !== form) return;
    var out = document.getElementById('compose-error');
    if (e.detail.successful) {
      form.reset();
      renewKey(form);
      if (out) out.textContent = '';
    } else if (out) {
      // The module states its reasons in text/plain; anything else (an HTML error page from
      // Apache itself or a proxy in front) is summed up rather than shown as markup.
      var xhr = e.detail.xhr;
      var status = (xhr && xhr.status) || 0;
      var type = (status && xhr.getResponseHeader('Content-Type')) || '';
      if (!status) {
        out.textContent = 'Could not post: the server cannot be reached.';
      } else if (/^text\/plain\b/i.test(type) && xhr.responseText) {
        out.textContent = xhr.responseText;
      } else {
        out.textContent = 'Could not post: the server answered ' + status +
          (xhr.statusText ? ' ' + xhr.statusText : '') + '.';
      }
    }
  });

  // Ctrl+Enter / Cmd+Enter posts, like most micro-blogs.
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && e.target.id === 'message') {
      e.preventDefault();
      htmx.trigger(document.getElementById('compose'), 'submit');
    }
  });
})();
