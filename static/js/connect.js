// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  function markThreadRead() {
    // The thread page tells us how far the member has now read; GET pages change nothing.
    var posts = document.querySelector("[data-mark-read]");
    if (!posts) return;
    var last = posts.getAttribute("data-last-post-id");
    if (!last || last === "0") return;  // no posts on this page (past the end): nothing read
    var body = new URLSearchParams();
    body.set("csrf_token", posts.getAttribute("data-csrf"));
    body.set("last_post_id", last);
    fetch(posts.getAttribute("data-mark-read"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    }).catch(function () { /* offline: the marker simply stays */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    // Move focus to an error summary so keyboard and screen-reader users hear it first.
    var summary = document.querySelector(".error-summary");
    if (summary) summary.focus();
    markThreadRead();
  });
})();
