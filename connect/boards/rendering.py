"""Posts as the thread page renders them, remembered by everything they show.

A thread page is mostly its 50 posts, and a post looks the same to most of its readers, so
each post's HTML is kept under a key made of every value that `boards/_post.html` reads:

* the post's own fields (text, status, times, recommendation count, what it replies to),
  its author's name, address and avatar, the quoted parent's author and text, and its
  attachments;
* the handful of facts about the reader that change it: signed in or not, own post,
  recommended it, may reply, may recommend, may edit, may remove, may message its author,
  has blocked its author.

Any change to any of them makes a different key, so nothing has to be emptied when
something is written; entries nobody asks for any more age out of a byte-bounded LRU.
The reader's CSRF token, the one thing of theirs in a post's forms, is swapped for a marker
before the HTML is kept and back for each reader.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from markupsafe import Markup

from connect.members.service import avatar_url
from connect.pagecache import ByteBoundedLRU

# Only our csrf() macro writes this: user text is escaped and sanitized HTML has no inputs.
_TOKEN_FIELD = '<input type="hidden" name="csrf_token" value="'
_MARKER = _TOKEN_FIELD + '{csrf}"'
# What a key (a tuple of ~20 values) and its LRU slot take, roughly.
_KEY_BYTES = 600


class PostCache:
    def __init__(self, max_bytes: int) -> None:
        self.enabled = max_bytes > 0
        self._posts = ByteBoundedLRU(max_bytes)
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._posts)

    def renderer(self, page: dict, csrf_token: str) -> Callable:
        """`render(post, macro)` for one page: the kept HTML of the post for this reader, or
        `macro(post)` (the template's own rendering) kept for the next reader like them."""
        token_field = f'{_TOKEN_FIELD}{csrf_token}"'

        def render(post, macro) -> Markup:
            if not self.enabled:
                return macro(post)
            key = post_key(post, page)
            html = self._posts.get(key)
            if html is None:
                self.misses += 1
                html = str(macro(post)).replace(token_field, _MARKER)
                self._posts.put(key, html, sys.getsizeof(html) + _KEY_BYTES)
            else:
                self.hits += 1
            return Markup(html.replace(_MARKER, token_field))

        return render


def _member(user) -> tuple | None:
    if user is None:
        return None
    return (user.id, user.username, user.display_name, avatar_url(user))


def post_part(post) -> tuple:
    """The part of a post's key that comes from the post and its author."""
    return (
        post.id,
        post.status,
        post.author_id,
        post.created_at,
        post.edited_at,
        post.recommend_count,
        post.reply_to_id,
        hash(post.html),
        _member(post.author),
    )


def quote_part(parent) -> tuple:
    """The part of a reply's key that comes from the post it quotes."""
    return (parent.id, parent.status, _member(parent.author), hash(parent.body))


def post_key(post, page: dict) -> tuple:
    """Every value `post_article` in boards/_post.html reads, for this post on this page.

    `page["parts"]`, when given, holds `post_part` and `quote_part` of the page's posts,
    worked out once for the rows every reader shares (connect.boards.shared)."""
    me = page.get("me")
    author_id = post.author_id
    parts = page.get("parts") or {}
    parent = page["parents"].get(post.reply_to_id) if post.reply_to_id else None
    attachments = page.get("attachments") or {}
    known = parts.get(post.id)
    if parent is None:
        quote = None
    elif parent.id in parts:
        quote = parts[parent.id][1]
    else:
        quote = quote_part(parent)
    return (
        known[0] if known else post_part(post),
        quote,
        tuple((a.id, a.title, a.status) for a in attachments.get(post.id, ())),
        page["community"].slug,
        page["thread"].id,
        page.get("page"),  # its Reply link stays on its page
        # The reader.
        me is not None,
        me is not None and author_id == me.id,
        post.id in page["recommended"],
        bool(page["can_reply"]),
        bool(page["can_recommend"]),
        bool(page["can_edit"](post)),
        bool(page["can_remove"](post)),
        author_id in page["message_authors"],
        author_id in page["blocked"],
    )
