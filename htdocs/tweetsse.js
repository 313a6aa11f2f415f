// mod_tweetsse page behaviour, on top of htmx and htmx-ext-sse. No eval, no inline code.
(function () {
  'use strict';

  var live = function () { return document.getElementById('live'); };

  // Keep the resume point current. htmx-ext-sse rebuilds its EventSource from the
  // sse-connect attribute after a full close, without a Last-Event-ID header.
  function remember(id) {
    var el = live();
    if (el && id) el.setAttribute('sse-connect', 'home/sse?last_event_id=' + encodeURIComponent(id));
  }

  // A post already on the page (a replay overlapping what is shown) is not added twice.
  document.addEventListener('htmx:sseBeforeMessage', function (e) {
    var id = e.detail && e.detail.lastEventId;
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

  // The server asks for a reload when the page is too old to resume without a gap.
  document.addEventListener('htmx:sseOpen', function (e) {
    var source = e.detail && e.detail.source;
    if (source && !source.twReload) {
      source.twReload = true;
      source.addEventListener('reload', function () { window.location.reload(); });
    }
  });

  // Compose form: clear after a successful post, show the reason of a refusal.
  document.addEventListener('htmx:afterRequest', function (e) {
    var form = document.getElementById('compose');
    if (!form || e.detail.elt !== form) return;
    var out = document.getElementById('compose-error');
    if (e.detail.successful) {
      form.reset();
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
