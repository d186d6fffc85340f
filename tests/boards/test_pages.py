"""The board and thread pages: order, paging, unread markers, forms, edits and removal."""

import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from connect.boards.models import Subscription, ThreadRead
from tests.boards.helpers import listed_threads, open_board, reply, start
from tests.conftest import csrf_from


@pytest.fixture
def settings(settings):
    """Paging needs many posts from few members quickly: posting rate limits off
    (CONNECT_RATE_LIMITS=off, as for imports); spam checks still apply."""
    return replace(settings, rate_limits=False)


def posts_on(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<article class="post[^"]*" id="post-(\d+)"', html)]


class HostileMarkup(HTMLParser):
    """Elements and attributes a page must never carry from members' text."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("svg", "iframe", "math", "object", "embed"):
            self.found.append(tag)
        if tag == "script" and not (attributes.get("src") or "").startswith("/static/js/"):
            self.found.append("script")
        if tag == "img" and "avatar" not in (attributes.get("class") or ""):
            self.found.append("img")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}")
            if name in ("href", "src", "action") and re.match(
                r"\s*(javascript|vbscript|data):", value or "", re.I
            ):
                self.found.append(f"{tag} {name}={value}")

    def handle_data(self, data):
        if self.lasttag == "script" and data.strip():
            self.found.append(f"inline script {data.strip()[:40]}")


def hostile_markup(html: str) -> list[str]:
    parser = HostileMarkup()
    parser.feed(html)
    return parser.found


def read_state(site) -> list[tuple]:
    async def load():
        async with site.ctx.db.read() as session:
            rows = await session.execute(
                select(
                    ThreadRead.user_id, ThreadRead.thread_id, ThreadRead.last_read_post_id
                ).order_by(ThreadRead.id)
            )
            return [tuple(r) for r in rows]

    return site.call(load)


# Order and paging ------------------------------------------------------------------------


def test_board_sorts_by_activity_with_pinned_first_or_by_creation(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob)
    first = start(a, title="First")
    second = start(a, title="Second")
    third = start(a, title="Third")
    reply(b, first, "bump")  # first is now the most active
    assert owner.patch(f"/api/v1/threads/{second['id']}", json={"pinned": True}).status_code == 200

    page = site.anonymous().get("/c/cataloging")
    assert page.status_code == 200
    assert listed_threads(page.text) == [second["id"], first["id"], third["id"]]
    assert "pinned" in page.text
    api = site.anonymous().get("/api/v1/communities/cataloging/threads").json()
    assert [t["id"] for t in api["items"]] == [second["id"], first["id"], third["id"]]

    newest = site.anonymous().get("/c/cataloging?sort=new").text
    assert listed_threads(newest) == [third["id"], second["id"], first["id"]]
    api = site.anonymous().get("/api/v1/communities/cataloging/threads?sort=new").json()
    assert [t["id"] for t in api["items"]] == [third["id"], second["id"], first["id"]]
    # Anything else falls back to activity on the page, and is refused by the API.
    assert listed_threads(site.anonymous().get("/c/cataloging?sort=x").text) == listed_threads(
        page.text
    )
    assert site.anonymous().get("/api/v1/communities/cataloging/threads?sort=x").status_code == 422

    # Unpinned, the order is by activity alone; a new reply moves a thread up.
    owner.patch(f"/api/v1/threads/{second['id']}", json={"pinned": False})
    reply(b, third, "bump")
    assert listed_threads(site.anonymous().get("/c/cataloging").text) == [
        third["id"],
        first["id"],
        second["id"],
    ]


def test_board_pages_hold_thirty_threads(site, admin, alice):
    _, (a,) = open_board(site, admin, alice)
    ids = [start(a, title=f"Thread {n:02d}", body="x")["id"] for n in range(35)]
    newest_first = list(reversed(ids))
    one = site.anonymous().get("/c/cataloging")
    assert listed_threads(one.text) == newest_first[:30]
    assert "Page 1 of 2" in one.text
    assert 'rel="next" href="/c/cataloging?sort=activity&amp;page=2"' in one.text
    two = site.anonymous().get("/c/cataloging?sort=activity&page=2")
    assert listed_threads(two.text) == newest_first[30:]
    assert "Page 2 of 2" in two.text and 'rel="prev"' in two.text
    assert listed_threads(site.anonymous().get("/c/cataloging?page=3").text) == []
    # Nonsense page numbers do not break the page.
    for bad in ("0", "-1", "abc", "99999999999"):
        assert site.anonymous().get(f"/c/cataloging?page={bad}").status_code == 200, bad
    api = site.anonymous().get("/api/v1/communities/cataloging/threads").json()
    assert api["per_page"] == 30 and api["total"] == 35 and len(api["items"]) == 30


def test_thread_pages_hold_fifty_posts_and_post_links_find_their_page(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a, title="Long thread", body="post 0")
    replies = [reply(b if n % 2 else a, thread, f"post {n}")["id"] for n in range(1, 121)]
    ids = [thread["first_post_id"], *replies]
    assert len(ids) == 121
    anonymous = site.anonymous()

    one = anonymous.get(f"/threads/{thread['id']}")
    assert posts_on(one.text) == ids[:50]
    assert "Page 1 of 3" in one.text and "121 posts" in one.text
    assert posts_on(anonymous.get(f"/threads/{thread['id']}?page=2").text) == ids[50:100]
    three = anonymous.get(f"/threads/{thread['id']}?page=3")
    assert posts_on(three.text) == ids[100:]
    assert "Page 3 of 3" in three.text

    api = anonymous.get(f"/api/v1/threads/{thread['id']}?page=3").json()
    assert api["total"] == 121 and api["per_page"] == 50 and api["page"] == 3
    assert [p["id"] for p in api["posts"]] == ids[100:]

    def link(index):
        answer = anonymous.get(f"/posts/{ids[index]}", follow_redirects=False)
        assert answer.status_code in (302, 303, 307)
        return answer.headers["location"]

    assert link(0) == f"/threads/{thread['id']}#post-{ids[0]}"
    assert link(49) == f"/threads/{thread['id']}#post-{ids[49]}"
    assert link(50) == f"/threads/{thread['id']}?page=2#post-{ids[50]}"
    assert link(99) == f"/threads/{thread['id']}?page=2#post-{ids[99]}"
    assert link(100) == f"/threads/{thread['id']}?page=3#post-{ids[100]}"
    assert link(120) == f"/threads/{thread['id']}?page=3#post-{ids[120]}"
    # Following the link lands on a page that holds the post.
    landed = anonymous.get(f"/posts/{ids[77]}")
    assert f'id="post-{ids[77]}"' in landed.text

    # A removed post keeps its place (placeholder), so links do not shift.
    assert b.delete(f"/api/v1/posts/{ids[1]}").status_code == 204
    assert link(50) == f"/threads/{thread['id']}?page=2#post-{ids[50]}"
    assert anonymous.get("/posts/999999").status_code == 404


def test_reply_under_a_post_on_a_later_page_quotes_it_there(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a, title="Long thread", body="post 0")
    ids = [thread["first_post_id"], *(reply(a, thread, f"post {n}")["id"] for n in range(1, 55))]
    later = ids[52]  # on page 2
    two = b.get(f"/threads/{thread['id']}?page=2").text
    link = f"/threads/{thread['id']}?page=2&amp;reply_to={later}#reply"
    assert f'<a href="{link}">Reply' in two
    # The live fragment links the same way, and page 1's links stay as they were.
    assert f'<a href="{link}">Reply' in b.get(f"/posts/{later}/fragment").text
    one = b.get(f"/threads/{thread['id']}").text
    assert f'href="/threads/{thread["id"]}?reply_to={ids[3]}#reply"' in one

    followed = b.get(link.replace("&amp;", "&"))
    assert f'id="post-{later}"' in followed.text
    assert ">&gt; post 52\n\n</textarea>" in followed.text
    assert f'Replying to <a href="/posts/{later}">post {later}</a>' in followed.text
    # An older link without the page (mail, bookmarks) still fills in the quote.
    stale = b.get(f"/threads/{thread['id']}?reply_to={later}").text
    assert ">&gt; post 52\n\n</textarea>" in stale
    assert f'name="reply_to" value="{later}"' in stale
    # A post of another thread, or none at all, is no quote and no "Replying to".
    other = start(a, title="Elsewhere", body="other words")
    for wrong in (other["first_post_id"], 999_999):
        page = b.get(f"/threads/{thread['id']}?reply_to={wrong}").text
        assert "Replying to" not in page and "other words" not in page


# Read state ------------------------------------------------------------------------------


def test_unread_marker_and_read_state_never_change_on_get(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a, title="Weeding policy")
    first_reply = reply(b, thread, "one")
    reply(b, thread, "two")
    marker = "New since your last visit"

    page = a.get(f"/threads/{thread['id']}")
    assert page.text.count(marker) == 1
    # The marker sits right before the first post Alice has not seen.
    assert re.search(
        rf'{marker}</p>\s*<article class="post" id="post-{first_reply["id"]}"', page.text
    )
    board = a.get("/c/cataloging").text
    assert "2 new replies" in board

    before = read_state(site)
    for _ in range(2):
        assert marker in a.get(f"/threads/{thread['id']}").text
        a.get(f"/api/v1/threads/{thread['id']}")
        a.get("/c/cataloging")
    assert read_state(site) == before  # reading pages changes nothing

    # Bob wrote them: no marker for his own posts; strangers never see one.
    assert marker not in b.get(f"/threads/{thread['id']}").text
    assert marker not in site.anonymous().get(f"/threads/{thread['id']}").text

    # Marking read needs the form's CSRF token.
    last = posts_on(page.text)[-1]
    refused = a.post(f"/threads/{thread['id']}/read", data={"last_post_id": str(last)})
    assert refused.status_code == 403
    assert marker in a.get(f"/threads/{thread['id']}").text
    answer = a.post(
        f"/threads/{thread['id']}/read",
        data={"csrf_token": csrf_from(page.text), "last_post_id": str(last)},
    )
    assert answer.status_code == 204
    assert marker not in a.get(f"/threads/{thread['id']}").text
    assert "new replies" not in a.get("/c/cataloging").text

    # A later reply brings both back, starting at that reply.
    third = reply(b, thread, "three")
    page = a.get(f"/threads/{thread['id']}").text
    assert re.search(rf'{marker}</p>\s*<article class="post" id="post-{third["id"]}"', page)
    assert "1 new reply" in a.get("/c/cataloging").text


def test_mark_read_refuses_nonsense(site, admin, alice):
    _, (a,) = open_board(site, admin, alice)
    thread = start(a)
    token = csrf_from(a.get(f"/threads/{thread['id']}").text)
    for value in ("", "abc"):
        answer = a.post(
            f"/threads/{thread['id']}/read", data={"csrf_token": token, "last_post_id": value}
        )
        assert answer.status_code in (400, 422), value
    answer = a.post("/threads/99999/read", data={"csrf_token": token, "last_post_id": "1"})
    assert answer.status_code == 404


# Latest discussions and recent posts -----------------------------------------------------


def test_home_lists_latest_discussions_of_my_communities_only(site, admin, alice, bob):
    owner, (a,) = open_board(site, admin, alice, slug="cataloging")
    site.community(owner, "archives")
    site.community(owner, "council", visibility="closed")
    b = site.signed_in(bob)
    assert b.post("/api/v1/communities/archives/join").status_code == 200
    assert b.post("/api/v1/communities/council/join").json()["status"] == "pending"
    start(a, title="Cataloging question")
    start(b, slug="archives", title="Archives question")
    start(owner, slug="council", title="Council secret")

    alice_home = a.get("/").text
    assert "Latest discussions" in alice_home
    assert "Cataloging question" in alice_home
    assert "Archives question" not in alice_home
    assert "Council secret" not in alice_home

    bob_home = b.get("/").text
    assert "Archives question" in bob_home
    assert "Cataloging question" not in bob_home
    assert "Council secret" not in bob_home  # asking to join is not membership

    carol = site.signed_in(site.member("carol"))
    assert "No discussions in your communities yet." in carol.get("/").text
    assert "Latest discussions" not in site.anonymous().get("/").text


def test_home_shows_the_ten_most_recently_active_discussions_newest_first(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob, slug="cataloging")
    threads = [start(a, title=f"Question {n}") for n in range(12)]

    def latest() -> list[int]:
        page = b.get("/").text
        section = page.split('id="latest-h"', 1)[1].split("</section>", 1)[0]
        return listed_threads(section)

    newest_first = [t["id"] for t in reversed(threads)]
    assert latest() == newest_first[:10]
    reply(b, threads[0])  # the oldest is now the most recently active
    assert latest() == [threads[0]["id"], *newest_first[:9]]


def test_board_and_home_name_the_last_poster(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob, slug="cataloging")
    thread = start(a, title="Shelving question")

    def row(page: str) -> str:
        return page.split(f'href="/threads/{thread["id"]}"', 1)[1].split("</li>", 1)[0]

    assert "by Alice" in row(b.get("/c/cataloging").text)
    reply(b, thread)
    assert "by Bob" in row(site.anonymous().get("/c/cataloging").text)
    assert "by Bob" in row(a.get("/").text.split('id="latest-h"', 1)[1])


def test_profile_recent_posts_respect_what_the_viewer_may_read(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob, slug="cataloging")
    site.community(owner, "council", visibility="closed")
    assert b.post("/api/v1/communities/council/join").json()["status"] == "pending"
    owner.put("/api/v1/communities/council/members/bob", json={"role": "member"})
    open_thread = start(a, title="Open question")
    reply(b, open_thread, "Public answer from Bob")
    secret = start(owner, slug="council", title="Closed budget")
    reply(b, secret, "Confidential answer from Bob")

    def recent(client) -> str:
        page = client.get("/members/bob")
        assert page.status_code == 200
        return page.text.split("Recent posts", 1)[1].split("Communities", 1)[0]

    for outsider in (site.anonymous(), a):
        shown = recent(outsider)
        assert "Public answer from Bob" in shown and "Open question" in shown
        assert "Confidential answer from Bob" not in shown
        assert "Closed budget" not in shown
    shown = recent(owner)
    assert "Confidential answer from Bob" in shown and "Closed budget" in shown
    assert "Confidential answer from Bob" in recent(b)

    # Removed posts leave the profile as well.
    public = [
        p
        for p in a.get(f"/api/v1/threads/{open_thread['id']}").json()["posts"]
        if p["body"] == "Public answer from Bob"
    ][0]
    assert b.delete(f"/api/v1/posts/{public['id']}").status_code == 204
    assert "Public answer from Bob" not in recent(site.anonymous())


# Forms: reply errors, edit, history, delete ----------------------------------------------


def test_reply_form_errors_keep_the_text(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a)
    token = csrf_from(b.get(f"/threads/{thread['id']}").text)

    empty = b.post(f"/threads/{thread['id']}/reply", data={"csrf_token": token, "body": "   "})
    assert empty.status_code == 422
    assert "Please check the form" in empty.text
    assert "Write a message." in empty.text
    assert 'aria-invalid="true"' in empty.text

    long_text = "Careful words & <thoughts> " * 2_500  # 67,500 characters
    assert len(long_text) > 65_536
    too_long = b.post(
        f"/threads/{thread['id']}/reply", data={"csrf_token": token, "body": long_text}
    )
    assert too_long.status_code == 422
    assert "65,536" in too_long.text
    escaped = long_text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert f">{escaped}</textarea>" in too_long.text
    assert "<thoughts>" not in too_long.text  # kept as text, not markup

    # The reply_to field survives an error too.
    again = b.post(
        f"/threads/{thread['id']}/reply",
        data={"csrf_token": token, "body": "", "reply_to": str(thread["first_post_id"])},
    )
    assert f'name="reply_to" value="{thread["first_post_id"]}"' in again.text
    # Nothing was posted.
    assert a.get(f"/api/v1/threads/{thread['id']}").json()["total"] == 1

    ok = b.post(
        f"/threads/{thread['id']}/reply",
        data={"csrf_token": token, "body": "x" * 65_536},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert ok.headers["location"].startswith("/posts/")


def test_a_reply_to_a_thread_removed_meanwhile_keeps_the_typed_text(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob)
    removed, hidden = start(a, title="Soon gone"), start(a, title="Soon hidden")
    token = csrf_from(b.get(f"/threads/{removed['id']}").text)
    # While bob types, alice removes her thread (its first post) and a moderator hides the other.
    assert a.delete(f"/api/v1/posts/{removed['first_post_id']}").status_code == 204
    hide = owner.post(f"/api/v1/posts/{hidden['first_post_id']}/hide", json={"reason": "spam"})
    assert hide.status_code == 200, hide.text
    typed = "A long & careful <answer>\nsecond line"
    for thread in (removed, hidden):
        lost = b.post(f"/threads/{thread['id']}/reply", data={"csrf_token": token, "body": typed})
        assert lost.status_code == 404
        assert "This thread was removed or hidden" in lost.text
        assert "Copy your text below" in lost.text
        escaped = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert f">{escaped}</textarea>" in lost.text
    # Nothing was written, and a thread that never existed answers the same way.
    assert owner.get(f"/api/v1/threads/{hidden['id']}").json()["total"] == 1
    never = b.post("/threads/999999/reply", data={"csrf_token": token, "body": typed})
    assert never.status_code == 404
    assert "This thread was removed or hidden" in never.text


def test_an_edit_of_a_post_removed_meanwhile_keeps_the_typed_text(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob)
    kept, hidden = start(a, title="Stays"), start(b, title="Soon hidden")
    mine = reply(a, kept, "First words")
    theirs = reply(a, hidden, "In a thread about to go")
    form = a.get(f"/posts/{mine['id']}/edit")
    token = csrf_from(form.text)
    # In another tab alice removes her reply; a moderator hides the other thread.
    assert a.delete(f"/api/v1/posts/{mine['id']}").status_code == 204
    hide = owner.post(f"/api/v1/posts/{hidden['first_post_id']}/hide", json={"reason": "spam"})
    assert hide.status_code == 200, hide.text
    typed = "Better & <clearer> words"
    for post in (mine, theirs):
        lost = a.post(f"/posts/{post['id']}/edit", data={"csrf_token": token, "body": typed})
        assert lost.status_code == 404
        assert "This post was removed or hidden" in lost.text
        assert ">Better &amp; &lt;clearer&gt; words</textarea>" in lost.text
    assert "In a thread about to go" in owner.get(f"/api/v1/posts/{theirs['id']}").text


def test_edit_is_for_the_author_and_history_shows_old_versions(site, admin, alice, bob):
    carol = site.member("carol")
    owner, (a, b, c) = open_board(site, admin, alice, bob, carol)
    thread = start(a, body="Original **wording**")
    post_id = thread["first_post_id"]

    assert b.get(f"/posts/{post_id}/edit").status_code == 403
    token = csrf_from(b.get(f"/threads/{thread['id']}").text)
    hijack = b.post(f"/posts/{post_id}/edit", data={"csrf_token": token, "body": "hijacked"})
    assert hijack.status_code == 403
    assert site.anonymous().get(f"/posts/{post_id}/edit").status_code in (401, 403, 303)
    assert "hijacked" not in a.get(f"/threads/{thread['id']}").text
    # No edit link for someone else's post.
    assert f'href="/posts/{post_id}/edit"' not in b.get(f"/threads/{thread['id']}").text
    assert f'href="/posts/{post_id}/edit"' in a.get(f"/threads/{thread['id']}").text

    never = a.get(f"/posts/{post_id}/history")
    assert never.status_code == 200 and "This post has not been edited." in never.text

    form = a.get(f"/posts/{post_id}/edit")
    assert form.status_code == 200
    assert ">Original **wording**</textarea>" in form.text
    bad = a.post(f"/posts/{post_id}/edit", data={"csrf_token": csrf_from(form.text), "body": ""})
    assert bad.status_code == 422 and "Write a message." in bad.text
    saved = a.post(
        f"/posts/{post_id}/edit",
        data={"csrf_token": csrf_from(form.text), "body": "Second _wording_"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert (
        owner.patch(f"/api/v1/posts/{post_id}", json={"body": "Third wording"}).status_code == 200
    )

    history = c.get(f"/posts/{post_id}/history")
    assert history.status_code == 200
    text = history.text
    assert "Current version" in text and "Third wording" in text
    assert "<strong>wording</strong>" in text and "<em>wording</em>" in text
    # Newest first: the moderator's edit replaced the second version.
    assert (
        text.index("Third wording")
        < text.index("<em>wording</em>")
        < text.index("<strong>wording</strong>")
    )
    assert "edit by Site Admin" in text
    thread_page = c.get(f"/threads/{thread['id']}").text
    assert f'href="/posts/{post_id}/history">edited</a>' in thread_page


def test_the_first_posts_edit_page_retitles_the_thread(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a, title="Subject headngs", body="Which ones?")
    first = thread["first_post_id"]
    later = reply(a, thread, "And a follow-up")

    # Only the first post's page has the title, and only for the author and moderators.
    form = a.get(f"/posts/{first}/edit")
    assert 'name="title" type="text" value="Subject headngs"' in form.text
    assert 'name="title"' not in a.get(f"/posts/{later['id']}/edit").text

    # A bad title keeps both typed texts and changes nothing.
    token = csrf_from(form.text)
    bad = a.post(f"/posts/{first}/edit", data={"csrf_token": token, "title": " ", "body": "New"})
    assert bad.status_code == 422 and "Enter a title." in bad.text
    assert ">New</textarea>" in bad.text
    assert a.get(f"/api/v1/threads/{thread['id']}").json()["thread"]["title"] == "Subject headngs"
    assert a.get(f"/api/v1/threads/{thread['id']}").json()["posts"][0]["body"] == "Which ones?"

    saved = a.post(
        f"/posts/{first}/edit",
        data={"csrf_token": token, "title": "Subject headings", "body": "Which ones?"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert "<h1>Subject headings</h1>" in b.get(f"/threads/{thread['id']}").text

    # The owner (a moderator) retitles too, and that is in the moderation log.
    form = owner.get(f"/posts/{first}/edit")
    assert 'name="title"' in form.text
    owner.post(
        f"/posts/{first}/edit",
        data={"csrf_token": csrf_from(form.text), "title": "LCSH", "body": "Which ones?"},
    )
    assert a.get(f"/api/v1/threads/{thread['id']}").json()["thread"]["title"] == "LCSH"
    logged = owner.get("/api/v1/moderation/log", params={"action": "thread.retitle"}).json()
    assert [row["after"] for row in logged["items"]] == [{"title": "LCSH"}]


def test_history_and_edit_of_unreadable_posts_are_404(site, admin, alice, bob):
    owner, (a,) = open_board(site, admin, alice, slug="council", visibility="closed")
    thread = start(a, slug="council", title="Budget", body="secret")
    a.patch(f"/api/v1/posts/{thread['first_post_id']}", json={"body": "secret 2"})
    outsider = site.signed_in(bob)
    assert outsider.get(f"/posts/{thread['first_post_id']}/history").status_code == 404
    assert outsider.get(f"/posts/{thread['first_post_id']}/edit").status_code == 404
    assert (
        outsider.get(f"/posts/{thread['first_post_id']}", follow_redirects=False).status_code == 404
    )


def test_delete_through_the_page_leaves_a_placeholder(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a, title="Removals", body="Opening post")
    doomed = reply(b, thread, "I regret this secret")
    page = b.get(f"/threads/{thread['id']}")
    token = csrf_from(page.text)
    assert f'action="/posts/{doomed["id"]}/delete"' in page.text
    assert f'action="/posts/{thread["first_post_id"]}/delete"' not in page.text

    # Someone else's post cannot be removed through the form.
    refused = b.post(f"/posts/{thread['first_post_id']}/delete", data={"csrf_token": token})
    assert refused.status_code == 403
    # Without a CSRF token nothing happens.
    assert b.post(f"/posts/{doomed['id']}/delete", data={}).status_code == 403
    assert "I regret this secret" in b.get(f"/threads/{thread['id']}").text

    answer = b.post(
        f"/posts/{doomed['id']}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/threads/{thread['id']}"
    for viewer in (site.anonymous(), a, b):
        html = viewer.get(f"/threads/{thread['id']}").text
        assert "This post was removed." in html
        assert "I regret this secret" not in html
        assert f'id="post-{doomed["id"]}"' in html
        # Counted as the board and the API count: the placeholder is not a post.
        assert re.search(r"[\s>]1 post[\s<]", html), "the thread page counts the removed post"
    assert a.get(f"/api/v1/threads/{thread['id']}").json()["thread"]["post_count"] == 1
    assert site.anonymous().get(f"/posts/{doomed['id']}/history").status_code == 404

    # Removing the first post removes the thread.
    token = csrf_from(a.get(f"/threads/{thread['id']}").text)
    answer = a.post(
        f"/posts/{thread['first_post_id']}/delete",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/c/cataloging"
    assert site.anonymous().get(f"/threads/{thread['id']}").status_code == 404
    assert thread["id"] not in listed_threads(site.anonymous().get("/c/cataloging").text)


def test_thread_page_get_creates_no_follow_or_read_rows(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a)

    async def follows():
        async with site.ctx.db.read() as session:
            rows = await session.execute(select(Subscription.user_id))
            return sorted(rows.scalars())

    before_follows, before_reads = site.call(follows), read_state(site)
    b.get(f"/threads/{thread['id']}")
    b.get(f"/threads/{thread['id']}?reply_to={thread['first_post_id']}")
    b.get(f"/posts/{thread['first_post_id']}")
    assert site.call(follows) == before_follows == [alice.id]
    assert read_state(site) == before_reads


def test_hostile_titles_and_bodies_are_inert_on_every_page(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(
        a,
        title='<script>alert("title")</script>',
        body="<img src=x onerror=alert(1)> and [x](javascript:alert(2))",
    )
    answer = reply(b, thread, '<svg onload=alert(3)> "quoted" <iframe src=javascript:alert(4)>')
    a.patch(f"/api/v1/posts/{thread['first_post_id']}", json={"body": "<script>alert(5)</script>"})
    reply_id = answer["id"]
    b.post(
        f"/api/v1/threads/{thread['id']}/posts",
        json={"body": "quoting", "reply_to": reply_id},
    )
    site.drain()
    pages = [
        "/c/cataloging",
        f"/threads/{thread['id']}",
        f"/threads/{thread['id']}?reply_to={reply_id}",
        "/",
        "/members/alice",
        "/members/bob",
        f"/posts/{thread['first_post_id']}/history",
        f"/posts/{reply_id}/recommendations",
        f"/posts/{reply_id}/edit",
        "/notifications",
    ]
    for client in (a, b):
        for url in pages:
            page = client.get(url)
            if page.status_code == 403:  # the edit page of someone else's post
                continue
            assert page.status_code == 200, url
            assert hostile_markup(page.text) == [], url
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in a.get("/c/cataloging").text


def test_a_page_past_the_end_says_where_the_end_is(site, admin, alice):
    """?page=99 of a two-page thread, a board, a library or a directory is not "nothing
    here yet": each says the page is past the end and links to the last one."""
    _, (a,) = open_board(site, admin, alice)
    thread = start(a)
    for n in range(50):
        reply(a, thread, f"Reply {n}")
    added = a.post(
        "/api/v1/communities/cataloging/library/entries",
        data={"title": "Plan"},
        files=[("file", ("plan.txt", b"a plan\n", "text/plain"))],
    )
    assert added.status_code == 201, added.text
    anyone = site.anonymous()
    for url, last in (
        (f"/threads/{thread['id']}?page=99", f"/threads/{thread['id']}?page=2"),
        ("/c/cataloging?page=99", "/c/cataloging?sort=activity&amp;page=1"),
        ("/c/cataloging/library?view=all&page=99", None),
        ("/members?page=99", None),
        ("/communities?page=99", None),
    ):
        html = anyone.get(url).text
        assert "There is no page 99: the last is page" in html, url
        for empty in ("No discussions yet", "No documents here yet", "No members match"):
            assert empty not in html, (url, empty)
        assert "No communities found" not in html, url
        if last:
            assert f'href="{last}"' in html, url
    assert "There is no page" not in anyone.get(f"/threads/{thread['id']}?page=2").text


def test_long_posts_are_refused_with_their_text_kept_and_any_script_fits(site, admin, alice):
    """The post's own limit (65,536 characters) is what refuses a long post, with the text
    kept in the form; a post within it fits whatever its script (a euro sign is 3 bytes)."""
    _, (a,) = open_board(site, admin, alice)
    page = site.signed_in(alice)
    token = csrf_from(page.get("/c/cataloging/threads/new").text)
    too_long = "a" * 70_000
    refused = page.post(
        "/c/cataloging/threads/new",
        data={"csrf_token": token, "title": "Long one", "body": too_long},
        files={"attachment": ("", b"", "application/octet-stream")},
    )
    assert refused.status_code == 422, refused.status_code
    assert "At most 65,536 characters." in refused.text
    assert too_long in refused.text  # kept in the box
    thread = start(a)
    euros = "€" * 25_000  # 75,000 bytes, 25,000 characters
    replied = page.post(
        f"/threads/{thread['id']}/reply",
        data={"csrf_token": token, "body": euros},
        files={"attachment": ("", b"", "application/octet-stream")},
        follow_redirects=False,
    )
    assert replied.status_code == 303, replied.text[:500]
    posts = a.get(f"/api/v1/threads/{thread['id']}").json()["posts"]
    assert posts[-1]["body"] == euros


def test_a_removed_posts_fragment_is_its_placeholder(site, admin, alice, bob):
    """Live pages fetch a post's fragment when it changes: a removed one comes back as the
    placeholder the thread page shows (not a 404 that left its text on open pages)."""
    owner, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a)
    regret = reply(b, thread, "Something to take back")
    assert b.delete(f"/api/v1/posts/{regret['id']}").status_code == 204
    fragment = a.get(f"/posts/{regret['id']}/fragment")
    assert fragment.status_code == 200
    assert "This post was removed." in fragment.text
    assert "Something to take back" not in fragment.text
    site.community(owner, "council", visibility="private")
    secret = owner.post(
        "/api/v1/communities/council/threads", json={"title": "Closed", "body": "Hush"}
    ).json()
    gone = owner.post(f"/api/v1/threads/{secret['id']}/posts", json={"body": "x"}).json()
    assert owner.delete(f"/api/v1/posts/{gone['id']}").status_code == 204
    assert b.get(f"/posts/{gone['id']}/fragment").status_code == 404
