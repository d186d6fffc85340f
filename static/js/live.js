// Live updates: new posts appear in place, boards count new threads, the bell counts up,
// the home feed grows, private messages arrive in the open conversation (or count up in
// the header).
// Small and framework-free; pages work fully without it. Reconnects with backoff and
// resumes from the last event seen, so nothing is missed.
(function () {
  "use strict";
  if (!("WebSocket" in window)) return;

  var lastId = 0;
  var channels = [];
  var socket = null;
  var delay = 1000;
  var newThreads = 0;
  var announcer = null;
  var threadGone = false;

  // One polite live region: a new text replaces the one being read, so what arrives while
  // one is spoken waits, and all that waited is spoken together after it.
  var ANNOUNCE_GAP_MS = 1500;
  var waiting = [];
  var speaking = false;
  function announce(text) {
    if (!announcer) return;
    if (waiting.indexOf(text) === -1) waiting.push(text);
    if (!speaking) speakNext();
  }
  function speakNext() {
    if (!waiting.length) { speaking = false; return; }
    speaking = true;
    var text = waiting.join(". ");
    waiting = [];
    announcer.textContent = "";
    window.setTimeout(function () {
      announcer.textContent = text;
      window.setTimeout(speakNext, ANNOUNCE_GAP_MS);
    }, 50);
  }

  function collectChannels() {
    var thread = document.querySelector("[data-live-thread]");
    if (thread) channels.push("thread:" + thread.getAttribute("data-live-thread"));
    var board = document.querySelector("[data-live-board]");
    if (board) channels.push("community:" + board.getAttribute("data-live-board"));
    // Pages with forms of a community hear when it is archived or unarchived.
    var community = document.querySelector("[data-live-community]");
    if (community) {
      var channel = "community:" + community.getAttribute("data-live-community");
      if (channels.indexOf(channel) === -1) channels.push(channel);
    }
    if (document.body.hasAttribute("data-signed-in")) channels.push("me");
    if (document.querySelector("[data-live-moderation]")) channels.push("moderation");
    var cursor = document.querySelector("[data-live-cursor]");
    if (cursor) lastId = parseInt(cursor.getAttribute("data-live-cursor"), 10) || 0;
  }

  function fetchPost(id) {
    return fetch("/posts/" + id + "/fragment", { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("post " + id + " is not visible");
      return r.text();
    });
  }

  // Show post `id` as the server renders it for us now. `fresh`: a new reply, which goes at
  // the end of the last page; otherwise (an edit, a restore, a removal) the post takes its
  // own place among this page's posts, if that place is on this page. `gone`: if we may no
  // longer see it, it leaves the page, and `gone` is what is announced.
  function placePost(id, replace, gone, fresh, said) {
    var container = document.querySelector("[data-live-thread]");
    if (!container) return;
    var existing = document.getElementById("post-" + id);
    if (existing && !replace) return;
    var lastPage = !document.querySelector('.pager a[rel="next"]');
    if (!existing && fresh && !lastPage) return;
    var before = null;
    if (!existing && !fresh) {
      var earlier = false;
      container.querySelectorAll("article.post[data-post-id]").forEach(function (other) {
        var otherId = parseInt(other.getAttribute("data-post-id"), 10);
        if (otherId < id) earlier = true;
        else if (otherId > id && !before) before = other;
      });
      if (!earlier || (!before && !lastPage)) return; // its place is on another page
    }
    fetchPost(id).then(function (html) {
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var article = holder.querySelector("article.post");
      if (!article) return;
      var current = document.getElementById("post-" + id);
      if (current) {
        current.replaceWith(article);
        if (said) announce(said);
      } else if (!fresh) {
        if (before && before.parentNode === container) container.insertBefore(article, before);
        else container.appendChild(article);
        announce("A post is shown again");
      } else {
        article.classList.add("live-new");
        container.appendChild(article);
        var by = article.querySelector(".post-by");
        announce("New reply" + (by ? " from " + by.textContent.trim() : ""));
      }
    }).catch(function () {
      // Not visible to us: nothing to show, and a post hidden meanwhile leaves the page.
      var shown = gone && document.getElementById("post-" + id);
      if (!shown) return;
      shown.remove();
      if (!threadGone) announce(gone);  // else the thread's own removal was announced
    });
  }

  // The thread itself went (its author removed it, or a moderator hid it): say so above
  // the posts; the page stays as it was, and a reply typed meanwhile keeps its text.
  function threadRemoved(text) {
    threadGone = true;
    var container = document.querySelector("[data-live-thread]");
    if (!container || document.querySelector("[data-thread-gone]")) return;
    var banner = document.createElement("p");
    banner.className = "live-banner";
    banner.setAttribute("data-thread-gone", "");
    banner.textContent = text + ".";
    container.parentNode.insertBefore(banner, container);
    announce(text);
  }

  // The header's post count follows replies, removals, hides and restores (the server
  // counts: it alone knows which posts count). Each page asks after a random wait of up to
  // two seconds, so that a busy thread's readers do not all ask at the same moment.
  var countTimer = null;
  function refreshPostCount() {
    var count = document.querySelector("[data-post-count]");
    if (!count) return;
    window.clearTimeout(countTimer);
    countTimer = window.setTimeout(function () {
      var url = "/api/v1/threads/" + count.getAttribute("data-post-count") + "?per_page=1";
      fetch(url, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("thread");
        return r.json();
      }).then(function (answer) {
        var n = answer.thread.post_count;
        count.textContent = n + " post" + (n === 1 ? "" : "s");
      }).catch(function () { /* the next change tries again */ });
    }, 300 + Math.random() * 2000);
  }

  function showNewThreads(slug) {
    var banner = document.querySelector("[data-live-board]");
    if (!banner) return;
    newThreads += 1;
    banner.hidden = false;
    banner.textContent = "";
    var text = document.createTextNode(newThreads + " new thread" + (newThreads === 1 ? "" : "s") + " — ");
    var link = document.createElement("a");
    link.href = "/c/" + slug;
    link.textContent = "show";
    banner.appendChild(text);
    banner.appendChild(link);
    announce(newThreads + " new thread" + (newThreads === 1 ? "" : "s"));
  }

  // The community was archived (or unarchived) while the page is open: its forms are out of
  // date, so say so and offer a reload rather than let someone type into a form it refuses.
  function archiveChanged(archived) {
    var banner = document.querySelector("[data-live-community]") || document.querySelector("[data-live-board]");
    var text = archived
      ? "This community was just archived: it can be read but takes no new posts. Reload the page."
      : "This community was just unarchived: it takes new posts again. Reload the page.";
    announce(text);
    if (!banner) return;
    banner.hidden = false;
    banner.textContent = text + " ";
    var link = document.createElement("a");
    link.href = window.location.pathname + window.location.search;
    link.textContent = "Reload";
    banner.appendChild(link);
  }

  function bumpCount(selector) {
    var link = document.querySelector(selector);
    if (!link) return;
    var count = link.querySelector(".count");
    if (!count) {
      count = document.createElement("span");
      count.className = "count";
      count.textContent = "0";
      link.appendChild(document.createTextNode(" "));
      link.appendChild(count);
    }
    count.textContent = String((parseInt(count.textContent, 10) || 0) + 1);
  }

  function bumpBell() {
    bumpCount("[data-live-count]");
    announce("New notification");
  }

  // Private messages: the open conversation shows a new one in place and counts it read;
  // on other pages the header's Messages count goes up and the inbox refreshes its list.
  function openConversation() {
    return document.querySelector("[data-live-conversation]");
  }

  function lastShownMessage(list) {
    var items = list.querySelectorAll("li.message");
    return items.length ? items[items.length - 1].getAttribute("data-message-id") : "0";
  }

  function markConversationRead(list) {
    var url = list.getAttribute("data-mark-read-url");
    if (!url) return;
    var body = new URLSearchParams();
    body.set("csrf_token", list.getAttribute("data-csrf"));
    body.set("last_message_id", lastShownMessage(list));
    fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    }).catch(function () { /* offline: it stays unread */ });
  }

  function placeMessage(list, data) {
    var id = data.message.id;
    if (document.getElementById("message-" + id)) return;
    // A new message belongs after the last page's messages, not at the end of an earlier one.
    if (document.querySelector('.pager a[rel="next"]')) return;
    fetch("/messages/" + data.conversation_id + "/messages/" + id, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("message " + id + " is not visible");
      return r.text();
    }).then(function (html) {
      var holder = document.createElement("ol");
      holder.innerHTML = html;
      var item = holder.querySelector("li.message");
      if (!item || document.getElementById("message-" + id)) return;
      item.classList.add("live-new");
      list.appendChild(item);
      if (data.unread) {
        var by = item.querySelector(".post-by");
        announce("New message" + (by ? " from " + by.textContent.trim() : ""));
        markConversationRead(list);
      }
    }).catch(function () { /* we left meanwhile: nothing to show */ });
  }

  var inboxTimer = null;
  function refreshInbox() {
    var inbox = document.querySelector("[data-live-inbox]");
    if (!inbox) return;
    fetch(inbox.getAttribute("data-fragment"), { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("inbox");
      return r.text();
    }).then(function (html) {
      inbox.innerHTML = html;
    }).catch(function () { /* try again on the next message */ });
  }

  function messageArrived(data) {
    if (!data.message) return;
    var list = openConversation();
    if (list && list.getAttribute("data-live-conversation") === String(data.conversation_id)) {
      placeMessage(list, data);
      return;
    }
    if (!data.unread) return;  // our own message, sent from another tab
    bumpCount("[data-live-messages]");
    var author = data.message.author;
    announce("New message" + (author ? " from " + author.display_name : ""));
    window.clearTimeout(inboxTimer);
    inboxTimer = window.setTimeout(refreshInbox, 200);
  }

  function notificationArrived(data) {
    if (data.kind !== "message") { bumpBell(); return; }
    // News of a message in the conversation on screen is read already: no bell for it.
    var list = openConversation();
    if (list && data.url === "/messages/" + list.getAttribute("data-live-conversation")) {
      markConversationRead(list);
      return;
    }
    bumpCount("[data-live-count]");  // silently: the message itself was announced
  }

  function handle(message) {
    if (message.op === "resync") {
      var banner = document.querySelector("[data-live-board]") || document.querySelector(".live-banner");
      announce("New activity: reload the page to see it.");
      if (banner) { banner.hidden = false; banner.textContent = "New activity: reload the page to see it."; }
      return;
    }
    if (message.op !== "event") return;
    if (message.id <= lastId) return;
    lastId = message.id;
    var data = message.data || {};
    if (message.channel.indexOf("thread:") === 0) {
      if (message.type === "post.created" && data.post) placePost(data.post.id, false, false, true);
      // An approved post may be on the page already (its author's, awaiting approval).
      if (message.type === "post.approved" && data.post) placePost(data.post.id, true, false, true);
      if (message.type === "post.hidden" && data.post) placePost(data.post.id, true, "A post was hidden by a moderator", false);
      if (message.type === "post.updated" && data.post) placePost(data.post.id, true, false, false);
      if (message.type === "post.deleted" && data.post_id) placePost(data.post_id, true, "This post was removed", false, "This post was removed");
      if (message.type === "thread.deleted") threadRemoved("This thread was removed");
      if (message.type === "thread.hidden") threadRemoved("This thread was hidden by a moderator");
      if (message.type.indexOf("post.") === 0) refreshPostCount();
    } else if (message.channel.indexOf("community:") === 0) {
      if ((message.type === "thread.created" || message.type === "thread.approved") && data.thread) showNewThreads(data.thread.community || message.channel.slice(10));
      if (message.type === "community.archived" || message.type === "community.unarchived") archiveChanged(message.type === "community.archived");
    } else if (message.channel === "me") {
      if (message.type === "notification.created") notificationArrived(data);
      if (message.type === "message.created") messageArrived(data);
      if (message.type === "feed.item") refreshFeed();
    } else if (message.channel === "moderation") {
      document.dispatchEvent(new CustomEvent("connect:moderation", { detail: message }));
    }
  }

  // The home feed: a `feed.item` on `me` says there is new activity; the server says what
  // is new for us (it alone knows who may see what); unseen items go to the top, announced.
  var feedTimer = null;
  function refreshFeed() {
    var feed = document.querySelector("[data-live-feed]");
    if (!feed) return;
    window.clearTimeout(feedTimer);
    feedTimer = window.setTimeout(function () {
      fetch(feed.getAttribute("data-feed-fragment"), { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("feed");
        return r.text();
      }).then(function (html) {
        var holder = document.createElement("ol");
        holder.innerHTML = html;
        var items = holder.querySelectorAll("li[data-feed-key]");
        var added = 0;
        for (var i = items.length - 1; i >= 0; i--) {  // oldest first, each to the top
          if (feed.querySelector('[data-feed-key="' + items[i].getAttribute("data-feed-key") + '"]')) continue;
          items[i].classList.add("live-new");
          feed.insertBefore(items[i], feed.firstChild);
          added += 1;
        }
        if (!added) return;
        var empty = feed.querySelector(".feed-empty");
        if (empty) empty.remove();
        announce(added + " new item" + (added === 1 ? "" : "s") + " from your network and communities");
      }).catch(function () { /* try again on the next event */ });
    }, 300);
  }

  // The moderation queue refetches its list when the queue changes; while a decision is
  // being typed it offers a refresh instead, so nothing is lost under the moderator's hands.
  var queueTimer = null;
  function refreshQueue(force) {
    var queue = document.querySelector("[data-moderation-queue]");
    if (!queue) return;
    var banner = document.querySelector("[data-queue-banner]");
    var active = document.activeElement;
    var typing = active && queue.contains(active) && (active.tagName === "TEXTAREA" || active.value);
    if (typing && !force) {
      if (banner && banner.hidden) {
        banner.textContent = "The queue changed. ";
        var show = document.createElement("button");
        show.type = "button";
        show.textContent = "Show the new queue";
        show.addEventListener("click", function () { refreshQueue(true); });
        banner.appendChild(show);
        banner.hidden = false;
      }
      return;
    }
    fetch(queue.getAttribute("data-fragment"), { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("queue");
      return r.text();
    }).then(function (html) {
      var picked = Array.prototype.map.call(queue.querySelectorAll("input[name=item]:checked"), function (box) { return box.value; });
      queue.innerHTML = html;
      Array.prototype.forEach.call(queue.querySelectorAll("input[name=item]"), function (box) {
        if (picked.indexOf(box.value) !== -1) box.checked = true;
      });
      if (banner) banner.hidden = true;
      var total = queue.querySelector("[data-queue-total]");
      announce("Moderation queue updated: " + (total ? total.textContent : "some") + " waiting.");
    }).catch(function () { /* try again on the next change */ });
  }
  document.addEventListener("connect:moderation", function () {
    window.clearTimeout(queueTimer);
    queueTimer = window.setTimeout(function () { refreshQueue(false); }, 300);
  });

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/api/v1/live");
    socket.onopen = function () {
      delay = 1000;
      channels.forEach(function (channel) {
        socket.send(JSON.stringify({ op: "subscribe", channel: channel }));
      });
      if (lastId) socket.send(JSON.stringify({ op: "resume", last_event_id: lastId }));
    };
    socket.onmessage = function (event) {
      try { handle(JSON.parse(event.data)); } catch (e) { /* ignore a bad frame */ }
    };
    socket.onclose = function () {
      socket = null;
      window.setTimeout(connect, delay + Math.floor(Math.random() * 500));
      delay = Math.min(delay * 2, 30000);
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    announcer = document.getElementById("live-announcer");
    collectChannels();
    if (channels.length) connect();
  });
})();
