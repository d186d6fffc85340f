"""Message pages: the inbox, a new message (and "Reply privately"), a conversation,
its forms (CSRF, text kept on errors), leaving, reporting and the header count."""

import re

from tests.conftest import csrf_from
from tests.messages.helpers import (
    block,
    community_with,
    counts,
    inbox,
    read,
    set_policy,
    start,
    write,
)


def messages_on(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="post message[^"]*" id="message-(\d+)"', html)]


def header_messages(html: str) -> str | None:
    match = re.search(r'data-live-messages>Messages(?: <span class="count">(\d+)</span>)?', html)
    assert match, "no Messages link in the header"
    return match.group(1)


def board_post(site, admin, author_member, *readers, slug="cataloging", **settings):
    """A thread in a community both join; (thread JSON, the author's client)."""
    owner = site.signed_in(admin)
    community_with(site, owner, slug, author_member, *readers, **settings)
    author = site.signed_in(author_member)
    thread = author.post(
        f"/api/v1/communities/{slug}/threads",
        json={"title": "Subject headings for zines", "body": "Which headings do you use?"},
    ).json()
    return thread, owner


def test_inbox_needs_sign_in_and_lists_conversations(site, alice, bob):
    anonymous = site.anonymous()
    assert anonymous.get("/messages", follow_redirects=False).headers["location"] == (
        "/login?next=/messages"
    )
    new = anonymous.get("/messages/new?to=bob&reply_to_post=3", follow_redirects=False)
    assert new.headers["location"] == "/login?next=/messages/new%3Fto%3Dbob%26reply_to_post%3D3"
    a, b = site.signed_in(alice), site.signed_in(bob)
    assert "No messages yet" in b.get("/messages").text
    assert header_messages(b.get("/messages").text) is None
    cid = start(a, "bob", "First words", subject="Zine fair")["id"]
    write(a, cid, "Second words")
    page = b.get("/messages").text
    assert f'href="/messages/{cid}">Zine fair</a>' in page
    assert "2 unread" in page and "With Alice" in page
    assert header_messages(page) == "2"
    # The fragment the live script swaps in is the same list.
    fragment = b.get("/messages/fragment")
    assert fragment.status_code == 200 and "2 unread" in fragment.text
    assert anonymous.get("/messages/fragment").status_code == 404
    # Opening the conversation reads it: the counts go.
    assert messages_on(b.get(f"/messages/{cid}").text) == [1, 2]
    assert header_messages(b.get("/messages").text) is None
    assert "unread" not in b.get("/messages/fragment").text


def test_inbox_search_form(site, alice, bob):
    a, b = site.signed_in(alice), site.signed_in(bob)
    start(a, "bob", "Risograph printing tips", subject="Printing")
    start(a, "bob", "Binding with thread", subject="Binding")
    page = b.get("/messages?q=risograph").text
    assert "Printing" in page and "Binding" not in page
    assert (
        "No conversation of yours mentions “nothing-like-it”"
        in b.get("/messages?q=nothing-like-it").text
    )


def test_new_message_form_sends_and_keeps_text_on_errors(site, alice, bob):
    a = site.signed_in(alice)
    form = a.get("/messages/new?to=bob")
    assert form.status_code == 200
    assert 'name="to" type="text" value="bob"' in form.text
    token = csrf_from(form.text)
    before = counts(site)
    # No CSRF token: refused, nothing written.
    assert a.post("/messages/new", data={"to": "bob", "body": "x"}).status_code == 403
    # An empty message: the form again, with what was typed.
    again = a.post(
        "/messages/new", data={"csrf_token": token, "to": "bob", "subject": "Kept", "body": " "}
    )
    assert again.status_code == 422
    assert 'value="Kept"' in again.text and "Write a message." in again.text
    unknown = a.post(
        "/messages/new", data={"csrf_token": token, "to": "bob, ghost", "body": "Kept body"}
    )
    assert unknown.status_code == 422
    assert "Unknown username: ghost." in unknown.text and "Kept body" in unknown.text
    block(site, bob, alice)
    refused = a.post("/messages/new", data={"csrf_token": token, "to": "bob", "body": "Kept too"})
    assert refused.status_code == 403
    assert "does not accept messages from you" in refused.text and "Kept too" in refused.text
    assert counts(site) == before
    carol = site.member("carol")
    sent = a.post(
        "/messages/new",
        data={"csrf_token": token, "to": "@carol", "body": "Hello *Carol*"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    cid = int(sent.headers["location"].rsplit("/", 1)[1])
    assert read(site.signed_in(carol), cid)["messages"][0]["body"] == "Hello *Carol*"


def test_conversation_page_reply_form_and_errors(site, alice, bob):
    a, b = site.signed_in(alice), site.signed_in(bob)
    cid = start(a, "bob", "One <script>alert(1)</script>")["id"]
    page = b.get(f"/messages/{cid}")
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text
    token = csrf_from(page.text)
    sent = b.post(
        f"/messages/{cid}/reply",
        data={"csrf_token": token, "body": "Two"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert re.fullmatch(rf"/messages/{cid}#message-\d+", sent.headers["location"])
    write(a, cid, "Three")
    assert [m for m in messages_on(b.get(f"/messages/{cid}").text)] == [1, 2, 3]
    assert b.post(f"/messages/{cid}/reply", data={"body": "no token"}).status_code == 403
    # Refused (Alice now blocks Bob): the page again, the text kept, the reason shown.
    block(site, alice, bob)
    refused = b.post(f"/messages/{cid}/reply", data={"csrf_token": token, "body": "Still there?"})
    assert refused.status_code == 403
    assert "Still there?" in refused.text and "does not accept messages from you" in refused.text
    mine = csrf_from(a.get(f"/messages/{cid}").text)
    empty = a.post(f"/messages/{cid}/reply", data={"csrf_token": mine, "body": ""})
    assert empty.status_code == 422 and "Write a message." in empty.text
    stranger = site.signed_in(site.member("carol"))
    assert stranger.get(f"/messages/{cid}").status_code == 404
    assert stranger.get(f"/messages/{cid}/messages/1").status_code == 404
    assert b.get(f"/messages/{cid}/messages/1").status_code == 200
    assert b.get(f"/messages/{cid}/messages/999").status_code == 404


def test_conversation_page_shows_the_last_page_first(site, alice, bob):
    a, b = site.signed_in(alice), site.signed_in(bob)
    cid = start(a, "bob", "m1")["id"]
    for i in range(2, 53):
        write(a, cid, f"m{i}")
    latest = b.get(f"/messages/{cid}").text
    assert messages_on(latest)[-1] == 52 and len(messages_on(latest)) == 2
    assert messages_on(b.get(f"/messages/{cid}?page=1").text)[0] == 1
    assert header_messages(b.get("/messages").text) is None  # the last page read it all


def test_leave_and_report_buttons(site, alice, bob):
    a, b = site.signed_in(alice), site.signed_in(bob)
    cid = start(a, "bob", "Please stop")["id"]
    page = b.get(f"/messages/{cid}").text
    token = csrf_from(page)
    assert f'action="/messages/{cid}/leave"' in page
    assert f'href="/messages/{cid}/report"' in page
    form = b.get(f"/messages/{cid}/report")
    assert form.status_code == 200
    empty = b.post(f"/messages/{cid}/report", data={"csrf_token": token, "reason": ""})
    assert empty.status_code == 422 and "Enter a reason." in empty.text
    done = b.post(
        f"/messages/{cid}/report",
        data={"csrf_token": token, "reason": "Unwanted"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/messages/{cid}"
    assert "reported to the site moderators" in b.get(f"/messages/{cid}").text
    left = b.post(f"/messages/{cid}/leave", data={"csrf_token": token}, follow_redirects=False)
    assert left.status_code == 303 and left.headers["location"] == "/messages"
    assert "You left the conversation." in b.get("/messages").text
    assert b.get(f"/messages/{cid}").status_code == 404
    assert "Bob Bibliographer left the conversation." in a.get(f"/messages/{cid}").text


def test_reply_privately_links_on_thread_pages(site, admin, alice, bob):
    thread, owner = board_post(site, admin, bob, alice)
    a = site.signed_in(alice)
    reply = a.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "Mine"}).json()
    link = f'href="/messages/new?to=bob&amp;reply_to_post={thread["first_post_id"]}"'
    page = a.get(f"/threads/{thread['id']}").text
    assert link in page
    assert f"reply_to_post={reply['id']}" not in page  # not on one's own post
    assert "Reply privately" not in site.anonymous().get(f"/threads/{thread['id']}").text
    fragment = a.get(f"/posts/{thread['first_post_id']}/fragment").text
    assert link in fragment
    # Not offered to those Bob does not accept messages from.
    set_policy(site, bob, "contacts")
    assert link not in a.get(f"/threads/{thread['id']}").text
    set_policy(site, bob, "communities")  # they share the community
    assert link in a.get(f"/threads/{thread['id']}").text
    block(site, bob, alice)
    assert link not in a.get(f"/threads/{thread['id']}").text
    assert link not in a.get(f"/posts/{thread['first_post_id']}/fragment").text


def test_reply_privately_quotes_the_post_while_it_can_be_read(site, admin, alice, bob):
    thread, owner = board_post(site, admin, bob, alice, slug="council", visibility="open")
    post_id = thread["first_post_id"]
    a, b = site.signed_in(alice), site.signed_in(bob)
    form = a.get(f"/messages/new?to=bob&reply_to_post={post_id}")
    assert form.status_code == 200
    assert f'<input type="hidden" name="reply_to_post" value="{post_id}">' in form.text
    assert f'<a href="/posts/{post_id}">Bob Bibliographer’s post in “Subject headings' in form.text
    sent = a.post(
        "/messages/new",
        data={
            "csrf_token": csrf_from(form.text),
            "to": "bob",
            "body": "About your question",
            "reply_to_post": str(post_id),
        },
        follow_redirects=False,
    )
    cid = int(sent.headers["location"].rsplit("/", 1)[1])
    page = b.get(f"/messages/{cid}").text
    assert "<h1>Subject headings for zines</h1>" in page  # the subject: the thread's title
    assert '<blockquote class="in-reply quoted-post">' in page
    assert f'href="/posts/{post_id}"' in page and "Which headings do you use?" in page
    message = read(b, cid)["messages"][0]
    assert message["reply_to_post"] == post_id
    assert message["quoted_post"]["url"] == f"/posts/{post_id}"
    # A third member who cannot read the post never sees the quote.
    carol = site.member("carol")
    c = site.signed_in(carol)
    owner.patch("/api/v1/communities/council", json={"visibility": "closed"})
    group = start(a, ["bob", "carol"], "For you both", reply_to_post=post_id)
    assert group["message"]["quoted_post"]["id"] == post_id  # Alice may read it
    seen_by_carol = read(c, group["id"])["messages"][0]
    assert seen_by_carol["quoted_post"] is None and seen_by_carol["reply_to_post"] is None
    assert "Which headings do you use?" not in c.get(f"/messages/{group['id']}").text
    # Nor the thread's title: the conversation is named by its first words instead.
    assert group["subject"] == "For you both"
    for seen in (c.get(f"/messages/{group['id']}").text, c.get("/messages").text):
        assert "Subject headings" not in seen
    assert "Subject headings" not in c.get("/api/v1/notifications").text
    # Once hidden by a moderator, the post is quoted to nobody but moderators.
    hidden = owner.post(f"/api/v1/posts/{post_id}/hide", json={"reason": "Off topic"})
    assert hidden.status_code == 200, hidden.text
    assert "Which headings do you use?" not in b.get(f"/messages/{cid}").text
    assert read(b, cid)["messages"][0]["quoted_post"] is None
    # And a hidden post cannot be quoted in a new message.
    refused = a.post(
        "/api/v1/conversations", json={"to": ["bob"], "body": "x", "reply_to_post": post_id}
    )
    assert refused.status_code == 422
    assert "quoted-post" not in a.get(f"/messages/new?to=bob&reply_to_post={post_id}").text


def test_inbox_lists_the_newest_conversation_first(site, alice, bob):
    a = site.signed_in(alice)
    first = start(a, "bob", "older")["id"]
    second = start(a, "bob", "newer")["id"]
    assert [i["id"] for i in inbox(a)["items"]] == [second, first]
    write(a, first, "bumped")
    assert [i["id"] for i in inbox(a)["items"]] == [first, second]
